"""Help ▸ How this works: the model in the program's own words, pointing at the window."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

HOW_IT_WORKS = """
<h2>What you are looking at</h2>
<p>Two models learn to compress images to a few numbers <i>z</i> (the <b>latent space</b>) and
to turn those numbers back into images. The left column is an <b>autoencoder (AE)</b>, the
right a <b>variational autoencoder (VAE)</b>. They have the same encoder and decoder shapes and
train on the same batches; only the loss differs.</p>

<h3>The prior p(z) = N(0, I)</h3>
<p>The VAE assumes latent points come from a standard normal distribution: the grey
<b>prior panel</b> in each column, and the dashed <b>1, 2 and 3&sigma; rings</b> over both
clouds. The AE has no prior: nothing tells its codes where to go.</p>

<h3>The approximate posterior q(z|x) = N(&mu;(x), &sigma;(x)&sup2; I)</h3>
<p>For each image x the VAE's encoder outputs a mean &mu;(x) and a spread &sigma;(x). The VAE
plot shows the means; <i>View &#9656; Cloud: one sample</i> shows one draw per image instead.
Click a point to see the ellipse &mu; &plusmn; 2&sigma; (<i>Tools &#9656; Inspect</i>). The AE's
encoder outputs one point, with no spread.</p>

<h3>Reparameterization: z = &mu; + &sigma; &middot; &epsilon;, &epsilon; ~ N(0, I)</h3>
<p>To train through the sampling step, the VAE draws &epsilon; from N(0, I) and shifts and
scales it, so gradients reach &mu; and &sigma;.</p>

<h3>The loss = reconstruction + &beta; &middot; KL</h3>
<p><b>Reconstruction</b> (binary cross-entropy summed over pixels) measures how well the decoded
image matches the input; the <b>KL</b> term, KL(q(z|x) &#8214; p(z)), measures how far each
posterior is from the prior and pulls the cloud into the rings. Both are in the <b>VAE loss
curves</b> (bottom right, in nats per image); &beta; = 1 (Settings) gives the evidence lower
bound. The AE minimises the reconstruction alone (bottom left). The <b>KL per dimension</b>
bars show which latent dimensions the VAE uses: a bar near zero is a collapsed unit that
carries no information.</p>

<h3>Generation: decode z ~ N(0, I)</h3>
<p>Because the VAE's cloud fills the prior, decoding a random draw from N(0, I) gives a
plausible image: press <b>Sample</b> to see the same draws decoded by both models. The AE's
codes leave holes and sprawl outside the rings, so most prior draws decode to nonsense.</p>

<h3>The difference, plainly</h3>
<p>An AE decodes well only near the codes of its training images. A VAE decodes something
sensible everywhere near the prior. Drag the cursor through both spaces, or switch on
<b>Manifold</b> to decode a whole grid at once, and watch the difference.</p>
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
