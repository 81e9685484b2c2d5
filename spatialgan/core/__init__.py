"""The StyleGAN2 core every model shares: layers, mapping, synthesis network, discriminator, losses, coordinates."""
