"""ssmll: semi-supervised multi-label image classification on cached CLIP features.

The library holds no params files and no global state; the DVC stages in ``stages/``
read ``params.yaml`` and call into it.
"""

__version__ = "0.1.0"
