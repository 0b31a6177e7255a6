"""Help ▸ How this works: the model in the program's own words, pointing at the window."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

HOW_IT_WORKS = """
<h2>What you are looking at</h2>
<p>Two models learn to compress images to a few numbers <i>z</i> (the <b>latent space</b>) and
to turn those numbers back into images. By default the left column is an <b>autoencoder
(AE)</b>, the right a <b>variational autoencoder (VAE)</b> (<i>Other pairs</i> below says how
to change them). They have the same encoder and decoder shapes and
train on the same batches. Two things differ: the VAE's encoder gives a distribution, from which
it decodes a random draw while training (sampling noise the AE never sees), and the VAE's loss
has a KL term. Every claim below points at the panel that measures it; <i>Tools &#9656;
Evidence</i> gathers the figures for both models and plots them as the run goes.</p>

<h3>The prior p(z) = N(0, I)</h3>
<p>The VAE assumes latent points come from a standard normal distribution: the grey
<b>prior panel</b> in each column, and the dashed <b>1, 2 and 3&sigma; rings</b> over both
clouds. In a plane these rings hold 39%, 86% and 99% of the prior (1 &minus;
e<sup>&minus;k&sup2;/2</sup>), not the 68/95/99.7% of a single dimension; with more than two
latent dimensions the plot is a projection of z, and the projected prior is again N(0, I) in
the plane, so the same shares hold. The AE has no prior: nothing tells its codes where to
go.</p>

<h3>The approximate posterior q(z|x) = N(&mu;(x), &sigma;(x)&sup2; I)</h3>
<p>For each image x the VAE's encoder outputs a mean &mu;(x) and a spread &sigma;(x). The VAE
plot shows the means; <i>View &#9656; Cloud: one sample</i> shows one draw per image instead.
Click a point to see the ellipse &mu; &plusmn; 2&sigma; (<i>Tools &#9656; Inspect</i>): a 2-D
Gaussian holds 86.5% of its mass inside it. With a 2-D latent space, Inspect and Draw also show
the <b>exact posterior</b> p(z|x), computed by quadrature over the plane, as a heat map under
the ellipse, with the share of its mass that the ellipse catches: where the two disagree, the
encoder's Gaussian is wrong. <i>Fade uncertain points</i> draws points with a wide &sigma;
faint; &sigma; often grows with the distance from the centre, and the plot states their
correlation, so the faint points are mostly the outer ones.</p>

<h3>Reparameterization: z = &mu; + &sigma; &middot; &epsilon;, &epsilon; ~ N(0, I)</h3>
<p>To train through the sampling step, the VAE draws &epsilon; from N(0, I) and shifts and
scales it, so gradients reach &mu; and &sigma;.</p>

<h3>The loss = reconstruction + &beta; &middot; KL</h3>
<p><b>Reconstruction</b> is &minus;log p(x|z) in nats per image, summed over pixels (and over
the red, green and blue values of each pixel of a colour image): binary cross-entropy
(Bernoulli pixels) by default, or with <i>MSE</i> a Gaussian with fixed variance 1/2 per pixel
(the squared error plus a constant, so the unit is nats of a density; these figures are not
comparable with BCE's). The grey-level pixels of MNIST are not 0 or 1, so BCE
cannot reach 0; nor are these figures comparable with papers that binarize MNIST. The
<b>KL</b> term, KL(q(z|x) &#8214; p(z)), measures how far each posterior is from the prior
and pulls the cloud into the rings. Both are in the <b>VAE loss curves</b> (bottom right).
With &beta; = 1 the VAE's loss is the negative evidence lower bound (&minus;ELBO), an upper
bound on &minus;log p(x); with a 2-D latent space the Evidence tab shows the exact
&minus;log p(x) beside it, on training and test images, and the gap between them (the mean
KL(q(z|x) &#8214; p(z|x))): a gap that grows on test images but not on training images is the
encoder overfitting. The AE minimises the reconstruction alone (bottom left). The <b>KL per
dimension</b> bars show which latent dimensions the VAE uses: a bar near zero is a collapsed
unit that carries no information. <i>Tools &#9656; &beta; sweep</i> trains one VAE per &beta;
on the same batches and measures what &beta; trades: a larger &beta; buys a smaller KL (the
rate) with a larger reconstruction term (the distortion), until whole dimensions collapse.</p>

<h3>Does the VAE's latent space become normal?</h3>
<p>What should match N(0, I) is the <b>aggregate posterior</b>, the mixture of all q(z|x): one
draw of q(z|x) per image samples it, and its variance per dimension is Var(&mu;) + mean
&sigma;&sup2;. The VAE's histograms show it by default, each titled with its variance (1 for the
prior); the means alone (<i>View &#9656; Histograms of the means</i>) are narrower and can look
like a failure when they are not. The Evidence tab measures each space's distance from N(0, I):
the KL between the prior and a Gaussian with the points' mean and covariance, a kernel
distance (MMD&sup2;) beside its noise floor for the same number of true N(0, I) draws, and the
share of points outside the 3&sigma; ring against the prior's own 1.1%.</p>

<h3>Generation: decode z ~ N(0, I)</h3>
<p>Press <b>Sample</b> to see the same prior draws decoded by both models. Whether they look
like data is measured, not asserted: in the Evidence tab a classifier trained on the dataset's
training split judges 1,000 decoded prior samples of each model, giving its mean confidence
and the entropy of the classes it sees (variety; log 10 = 2.30 nats when all ten digits are
equally common). With a 2-D latent space the AE's prior samples are often plausible digits too:
what differs is variety (its classes are unevenly spread over the prior's range, so some
digits come up far more often than others: a lower class entropy), holes between its
clusters, and scale (its codes sprawl far beyond the rings, so most of its space is never
visited by N(0, I) draws). The Evidence tab shows how much, for the models on
screen.</p>

<h3>The difference, plainly</h3>
<p>An AE's codes go wherever reconstruction puts them; a VAE's are pulled towards the prior,
so that decoding prior draws covers the data. Drag the cursor through both spaces, or switch
on <b>Manifold</b> to decode a whole grid at once, and compare with the figures in the
Evidence tab.</p>

<h3>Other pairs</h3>
<p><b>Models</b> in the settings chooses what each column holds: an AE, or a VAE with a
&beta; of its own on the left; an AE, or a VAE with the &beta; above on the right. Both
train on the same batches from the same start, so <b>VAE &beta;=1 | VAE &beta;=4</b>
differ by &beta; alone: watch the KL bars, the rings and the loss curves of each. Every
tool and the Evidence tab measure whichever pair is shown. <i>File &#9656; Open beside</i>
puts one model of each of two checkpoints side by side (by default each one's VAE), with the
cursor linked, and measures their figures next to each other.</p>
"""


class HelpDialog(QtWidgets.QDialog):
    """A non-modal window with the explanation; it can stay open while training runs."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("How this works")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(620, 680)
        self.text = QtWidgets.QTextBrowser()
        self.text.setHtml(HOW_IT_WORKS)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(close)
