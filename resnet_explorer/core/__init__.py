"""The headless core: models, weights, images, analysis probes, data and training.

Nothing under this package imports Qt (an import-linter contract enforces it), so it runs in
notebooks, scripts and servers.
"""
