"""Training stages on TRL: SFT (``anomseer.trainers.sft``), TimerPO
(``anomseer.trainers.timerpo``) and what they share: recipe configs on TRL's dataclasses
(``configs``), running a stage (``entry``), data loading and checks, model set-up, checkpoints.

Importing the package quiets the notices importing TRL prints on a CPU-only machine
(``anomseer.import_notices``): every stage module imports TRL after this runs."""

from anomseer.import_notices import quiet_cpu_import_notices

quiet_cpu_import_notices()
