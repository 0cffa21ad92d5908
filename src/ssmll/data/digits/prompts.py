"""The prompt ensemble for digit classes: the extract default and the embedded CLIP's zero-shot read-outs.

One home, so that the pipeline's prompts and the ones the embedded CLIP is judged with cannot drift apart.
"""

DIGIT_TEMPLATES: tuple[str, ...] = (
    "a photo of the number {}.",
    "a picture of the digit {}.",
    "a photo of a {}.",
    "an image containing {}.",
)
