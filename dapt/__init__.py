"""dapt: domain-adaptive MLM pretraining with entity masking, then NER, for brat corpora.

Sub-packages, one concept each: ``data`` (documents, readers/writers, the split, encoding,
windows, tokenizers, artifact contracts), ``masking`` (units, strategies, the stored masks,
statistics), ``training`` (models, Trainer settings, the MLM and NER trainers, curves,
checkpoints), ``ner`` (BIO, heads, document inference, span scoring), ``char_taggers``
(character CRF and BiLSTM-CRF: the unit tagger and the reference rows) and ``experiments``
(the real-data profile, grid, tuning and reference rows). Commands: ``python -m
dapt.predict``, ``python -m dapt.report``. The DVC stage scripts that drive all of this live
in ``stages/``; ``general/`` builds the general-domain checkpoint with the same stages.
"""
