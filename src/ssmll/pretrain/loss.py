"""Pairwise sigmoid loss with multi-positive targets, for a world of few distinct captions.

In a ten-digit world a batch of 256 holds many captions that are true of many images
("a photo of the number three." fits every image with a three). Softmax CLIP loss
treats all but the diagonal as negatives and fights itself; a sigmoid loss on every
image-caption pair (SigLIP) takes any 0/1 target matrix. The target of a pair is 1
when the digits the caption names are a subset of the image's digits: exactly the
question multi-label zero-shot scoring later asks of a one-class prompt.

The token term asks the same of the local tokens: a pair's token logit is a soft
maximum (log-sum-exp, inverse temperature ``beta``) over the image's patch-text
cosines, so a caption must match some patch of every image it is true of. That
aligns the local tokens with the text, which label-specific read-outs attend over.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def subset_targets(image_digits: list[frozenset[int]], caption_digits: list[frozenset[int]]) -> torch.Tensor:
    """(images, captions) 0/1: the caption's digits are all in the image."""
    return torch.tensor([[float(c <= i) for c in caption_digits] for i in image_digits])


def sigmoid_pair_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over every pair, summed and divided by the number of images."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / logits.shape[0]


def soft_max_cosine(patches: torch.Tensor, text: torch.Tensor, beta: float) -> torch.Tensor:
    """(images, captions): ``logsumexp(beta * cos(patch, text)) / beta`` over each image's patches, minus log T.

    Subtracting ``log(T) / beta`` makes a uniform cosine c map to c, so the term shares
    the global term's scale and bias.
    """
    cos = torch.einsum("btd,cd->bct", patches, text)
    return (torch.logsumexp(beta * cos, dim=-1) - math.log(patches.shape[1])) / beta
