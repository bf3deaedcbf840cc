"""Classical expert analyses of a series (SPEC section 3): the analysis panel
(:mod:`~data_gen.expert.panel`), its per-series calibration
(:mod:`~data_gen.expert.calibration`), the multivariate analysis
(:mod:`~data_gen.expert.variates`) and the label-free detector built on them
(:mod:`~data_gen.expert.detector`), the evaluator's classical baseline."""
