"""Pretraining the embedded CLIP: a small open_clip model that knows the digit world.

``corpus`` renders image-caption pairs from the pretraining scans, ``loss`` scores them
(sigmoid pairwise loss with multi-positive targets, plus a token-level term), and
``recipe`` trains and saves the weights that the default pipeline loads as a checkpoint.
"""
