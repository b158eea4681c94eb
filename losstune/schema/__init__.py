"""What MMDetection's registries know: each loss's and sampler's parameters (as data, in
``losstune/data``), the known types, what heads do with their losses, and which MMDetection a
config is written for."""
