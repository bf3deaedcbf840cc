"""Training stages on TRL: SFT (``anomseer.trainers.sft``), TimerPO
(``anomseer.trainers.timerpo``) and what they share: recipe configs on TRL's dataclasses
(``configs``), running a stage (``entry``), data loading and checks, model set-up, checkpoints."""
