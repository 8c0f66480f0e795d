from hypertext.models.text_autoencoder import TextAutoencoder

__all__ = ["TextAutoencoder"]
