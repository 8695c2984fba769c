"""The network: InceptionV1's layer table, the model and its stateless ``run(edit=...)``, weights and labels,
the device, activation capture and predictions."""
