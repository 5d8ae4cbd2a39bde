"""Classical NER reference baselines that need no pretraining (character CRF, BiLSTM-CRF)."""
