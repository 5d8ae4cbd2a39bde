"""Character-level taggers that need no pretraining: a feature CRF (``feature_crf``,
python-crfsuite; the unit-tagger stage's model and a reference row) and a BiLSTM-CRF
(``bilstm_crf``, a reference row), over the whitespace-free character sequences of
``chars``."""
