"""dapt: domain-adaptive MLM pretraining with entity masking, then NER, for brat corpora.

Sub-packages, one concept each: ``data`` (documents, readers/writers, encoding, windows,
tokenizers, artifact contracts), ``masking`` (units, strategies, statistics), ``training``
(models, Trainer settings, seeded trainer, curves, checkpoints), ``ner`` (BIO, document
inference, span scoring). Commands: ``python -m dapt.predict``, ``python -m dapt.report``.
The DVC stage scripts that drive all of this live in ``stages/``.
"""
