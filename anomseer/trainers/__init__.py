"""Training stages on TRL: SFT (``anomseer.trainers.sft``) and the plumbing the stages share
(recipe parsing, dataset loading and checks, model set-up, checkpoints)."""
