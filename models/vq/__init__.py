"""The image tokenizer of the image-generation task: a small taming-transformers VQModel.

    from models.vq import VQConfig, VQTokenizer, train_vq
    path = train_vq(image_paths, "out/vq", VQConfig(), steps=2000, seed=0)
    tok = VQTokenizer.load(path)              # or a user's VQGAN: VQTokenizer.load("last.ckpt")
    tokens = tok.encode(images)               # LongTensor (B, grid*grid) in 0..n_codes-1
    images = tok.decode(tokens)               # list of PIL images
"""
from models.vq.config import VQConfig
from models.vq.tokenizer import VQTokenizer
from models.vq.train import evaluate_reconstruction, train_vq

__all__ = ["VQConfig", "VQTokenizer", "train_vq", "evaluate_reconstruction"]
