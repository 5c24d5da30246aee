"""The two CNNs of the case study, both Sequential stacks of Conv2D, pooling and Dense layers."""
import keras
import numpy as np
from keras import layers

# --8<-- [start:shapes]
INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
# --8<-- [end:shapes]


# --8<-- [start:baseline]
def build_baseline():
    """TensorFlow's tutorial CNN (122,570 weights) with dropout before the
    classifier."""
    return keras.Sequential([
        keras.Input(shape=INPUT_SHAPE),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(NUM_CLASSES),  # logits: the loss applies softmax itself
    ], name="baseline")
# --8<-- [end:baseline]


# --8<-- [start:improved]
class Dirac(keras.initializers.Initializer):
    """Start a 3x3 convolution as the identity on its first input channels.

    Filter i < inputs copies input channel i unchanged (a 1 at the kernel's
    centre), so a fresh block passes its input through and learns what to add;
    the remaining filters start random (He uniform), as Keras would start them
    all.
    """

    def __call__(self, shape, dtype=None):
        height, width, inputs, outputs = shape
        kernel = keras.initializers.HeUniform()(shape, dtype="float32")
        kernel = keras.ops.convert_to_numpy(kernel)
        for i in range(min(inputs, outputs)):
            kernel[:, :, :, i] = 0.0
            kernel[height // 2, width // 2, i, i] = 1.0
        return keras.ops.cast(kernel, dtype or "float32")


def conv_block(filters, activation, initializer):
    """Convolution, 2x2 max-pooling, then normalise and activate; a second
    convolution.

    Pooling before normalising runs the normalisation on a quarter of the
    pixels. The batch-norm layers have no scale (the next convolution can scale)
    and follow the batch quickly (momentum 0.6), so their statistics keep up
    with fast training.
    """
    def normalise_and_activate():
        return [layers.BatchNormalization(momentum=0.6, epsilon=1e-5,
                                          scale=False),
                layers.Activation(activation)]
    return [layers.Conv2D(filters, 3, padding="same", use_bias=False,
                          kernel_initializer=initializer),
            layers.MaxPooling2D(),
            *normalise_and_activate(),
            layers.Conv2D(filters, 3, padding="same", use_bias=False,
                          kernel_initializer=initializer),
            *normalise_and_activate()]


# airbench uses GELU; on this project's AMD EPYC it ran the whole network 2x
# slower than ReLU or SiLU (TensorFlow's GELU computes erf), so SiLU, GELU's
# smooth look-alike.
ACTIVATION = "silu"
# airbench93's widths; airbench94's 64/256/256 costs twice the time
WIDTHS = (64, 128, 128)
# two per dimension of a 2x2x3 patch: each direction and its negative
WHITENING_FILTERS = 24


def build_improved(whitening=True, dirac=True, activation=ACTIVATION):
    """An airbench-style CNN: frozen whitening, three conv blocks, a linear
    classifier.

    The first convolution is set from the training images by `whiten()` and
    never trained. The blocks' convolutions start as identities (Dirac). The
    arguments exist for the ablation (examples/cifar10/ablation.py):
    whitening=False leaves the first convolution trainable from a random start,
    dirac=False starts every filter random.
    """
    initializer = Dirac() if dirac else "he_uniform"
    return keras.Sequential([
        keras.Input(shape=INPUT_SHAPE),
        layers.Conv2D(WHITENING_FILTERS, 2, trainable=not whitening,
                      name="whitening"),
        layers.Activation(activation),
        *(layer for filters in WIDTHS
          for layer in conv_block(filters, activation, initializer)),
        # 3x3 -> 1x1: the strongest response of each filter
        layers.MaxPooling2D(3),
        layers.Flatten(),
        layers.Dense(NUM_CLASSES, use_bias=False),
        # Scaled-down logits start the classifier gently (airbench divides by
        # 9).
        layers.Rescaling(1 / 9, dtype="float32"),
    ], name="improved")


def patches_2x2(images):
    """Every 2x2 patch of every image, flattened to (height, width, channel)
    order."""
    n, h, w, c = images.shape
    windows = np.lib.stride_tricks.sliding_window_view(images, (2, 2),
                                                       axis=(1, 2))
    # windows: (n, h-1, w-1, c, 2, 2) -> (n*(h-1)*(w-1), 2*2*c) in a kernel's
    # order
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 4 * c)


def whiten(model, images, eps=5e-4):
    """Set the first convolution to whiten 2x2 patches of `images` (training
    images only).

    Its filters are the eigenvectors of the patches' covariance, each divided by
    the square root of its eigenvalue (and each also negated: the activation
    after it keeps the positive side of each). The 12 whitened directions then
    have unit variance and are uncorrelated (each output's negative is another
    output): the next layers see decorrelated inputs and train faster. The bias
    subtracts the patches' mean.
    """
    patches = patches_2x2(np.asarray(images, dtype="float64"))
    mean = patches.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    filters = eigenvectors / np.sqrt(eigenvalues + eps)  # one filter per column
    filters = np.concatenate([filters, -filters], axis=1)
    layer = model.get_layer("whitening")
    kernel = filters.reshape(2, 2, images.shape[-1], WHITENING_FILTERS)
    layer.set_weights([kernel.astype("float32"),
                       (-mean @ filters).astype("float32")])
# --8<-- [end:improved]


# --8<-- [start:builders]
BUILDERS = {"baseline": build_baseline, "improved": build_improved}
# --8<-- [end:builders]
