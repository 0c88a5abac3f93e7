"""The embedded default world: a seeded, seven-domain, Amazon-like data set written in the Amazon
2014 release's own file formats, so the ordinary pipeline reads it like real data.

    generate_world(out_dir, scale="default", seed=0) -> out_dir   (files; see writer.py)
    simulate(scale="tiny", seed=0) -> World                        (the latent world in memory)

Scales: tiny (tests), default (the demo), paper (Table-5 sizes); see config.py.
"""
from benchmark.data.world.build import World, simulate
from benchmark.data.world.config import SCALES, Scale
from benchmark.data.world.writer import generate_world

__all__ = ["SCALES", "Scale", "World", "generate_world", "simulate"]
