"""Through MMDetection's own head: the configured detector built with MMDetection's registry (the
config itself still read statically by losstune), its ``loss`` run on a seeded synthetic batch, and
every call of every loss module recorded, with the five steps of each and the loss dict the head
returns. MMDetection, mmengine and torch are imported only here, and only when asked for.
"""
