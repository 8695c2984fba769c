"""A sparse autoencoder (SAE) on mixed4e: the layer's activation vectors rewritten as a few active features.

The rooms of this package:

* ``autoencoder``: the TopK autoencoder itself, its file format (``load_sae``), the photos held out of training,
  encoding a picture, and the figures that say how well it rewrites the layer (``evaluate``);
* ``training``: how it is trained (``TrainingSettings``, ``train``) and how its feature atlas is written;
* ``features``: the features among the photos (``load_feature_atlas``, ``feature_examples``) and against the
  neurons (``features_of_neuron``, ``neurons_of_feature``, ``purity_comparison``, and at matched firing frequency
  ``purity_by_frequency``);
* ``downstream``: the autoencoder tested downstream: the layer replaced by its reconstruction, against zero- and
  mean-ablating it (``splice``, ``cached_splice``), and the dead features told apart (``dead_features``); its
  shipped result (``DOWNSTREAM_FILE``, ``load_downstream``, written by ``downstream_record``/``write_downstream``).

Everything public is importable from here: ``from interp import sae; sae.load_sae()``. No Streamlit here; the
chapter-6 page draws what these functions return.
"""

from __future__ import annotations

from interp.sae.autoencoder import (
    FILE_KEYS,
    FORMAT,
    HELD_OUT_EVERY,
    LAYER,
    LOG_FILE,
    SAE_DIR,
    SAE_FILE,
    VIEWS,
    SAEError,
    SparseAutoencoder,
    encode_image,
    evaluate,
    held_out_photos,
    l0_fixed_by_k,
    load_sae,
    photo_activations,
    reconstruction_stats,
    require_photos,
    topk_relu,
    training_photos,
)
from interp.sae.downstream import (
    DOWNSTREAM_FILE,
    LayerStatistics,
    cached_splice,
    dead_features,
    downstream_record,
    layer_statistics,
    load_downstream,
    splice,
    write_downstream,
)
from interp.sae.features import (
    ATLAS_NAME,
    EXAMPLES_FILE,
    FEATURES,
    FREQUENCY_EDGES,
    FrequencyBin,
    Loading,
    PurityByFrequency,
    PurityComparison,
    feature_examples,
    feature_rankings,
    features_of_neuron,
    frequency_matched,
    load_feature_atlas,
    neurons_of_feature,
    purity_by_frequency,
    purity_comparison,
)
from interp.sae.training import TrainingSettings, build_feature_atlas, geometric_median, train

__all__ = [
    "ATLAS_NAME",
    "DOWNSTREAM_FILE",
    "EXAMPLES_FILE",
    "FEATURES",
    "FILE_KEYS",
    "FORMAT",
    "FREQUENCY_EDGES",
    "HELD_OUT_EVERY",
    "LAYER",
    "LOG_FILE",
    "SAE_DIR",
    "SAE_FILE",
    "VIEWS",
    "FrequencyBin",
    "LayerStatistics",
    "Loading",
    "PurityByFrequency",
    "PurityComparison",
    "SAEError",
    "SparseAutoencoder",
    "TrainingSettings",
    "build_feature_atlas",
    "cached_splice",
    "dead_features",
    "downstream_record",
    "encode_image",
    "evaluate",
    "feature_examples",
    "feature_rankings",
    "features_of_neuron",
    "frequency_matched",
    "geometric_median",
    "held_out_photos",
    "l0_fixed_by_k",
    "layer_statistics",
    "load_downstream",
    "load_feature_atlas",
    "load_sae",
    "neurons_of_feature",
    "photo_activations",
    "purity_by_frequency",
    "purity_comparison",
    "reconstruction_stats",
    "require_photos",
    "splice",
    "topk_relu",
    "train",
    "training_photos",
    "write_downstream",
]
