"""The prompt ensembles of the embedded worlds: the extract defaults and the embedded CLIPs' zero-shot read-outs.

One home, so that the pipeline's prompts and the ones an embedded CLIP is judged with cannot drift apart.
"""

DIGIT_TEMPLATES: tuple[str, ...] = (
    "a photo of the number {}.",
    "a picture of the digit {}.",
    "a photo of a {}.",
    "an image containing {}.",
)

OBJECT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a drawing of a {}.",
    "an image containing {}.",
    "there is a {} in this image.",
)
