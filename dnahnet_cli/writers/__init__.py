"""Every output file the commands write, one module per output family.

A command parses its options, calls one recipe of :mod:`dnahnet_core.scoring` (a
:class:`~dnahnet_core.scoring.session.RecipeRun`: parameters and results in input order) and hands
the run to its writer here. Writers own the file formats (columns, headers, INFO definitions,
compression and indexes) and the resumable commits (:mod:`dnahnet_cli.resumable`); they never call
the model.

- :mod:`.variants`: score-vcf (VCF, VCF.gz + tbi, BCF + csi, TSV, TSV.gz + tbi)
- :mod:`.knockouts`: essentiality (TSV)
- :mod:`.boundaries`: boundaries (BED, TSV, bigWig)
- :mod:`.embeddings`: embed (HDF5)
- :mod:`.sequences`: score (TSV, per-base HDF5 / bigWig / bedGraph)
- :mod:`.fitness`: fitness (TSV)
"""
