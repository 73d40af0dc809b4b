"""Class names of the built-in datasets, in label order: plain Python, so the window can use them without
importing torch (its start-up must not wait for torch)."""

from __future__ import annotations

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
