"""The data: the one door for images (``intake``), the 1,000-photo collection and the web samples, downloads,
the dataset-examples atlas, drawn stimuli, and the pictures made from activations (heat maps, weight maps)."""
