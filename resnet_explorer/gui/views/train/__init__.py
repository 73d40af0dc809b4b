"""The Train tab, split by job.

* :mod:`.tab` - :class:`~.tab.TrainTab`, the page itself: it lays out the parts below, shows messages,
  exports the curves and offers the finished networks to the Predict tab;
* :mod:`.form` - :class:`~.form.TrainForm`, the settings (model, data, schedule), filled from the core's
  lists of architectures, shortcut options and datasets;
* :mod:`.session` - :class:`~.session.TrainSession`, the run bar (Start / Pause / Stop, progress and time
  left) and the training thread with its :class:`~resnet_explorer.gui.train_worker.TrainWorker`;
* :mod:`.progress` - :class:`~.progress.RunProgress` (no Qt), the fraction done and time left as the
  engine reports them;
* :mod:`.plots` - :class:`~.plots.CurvePlots`, the live curves drawn like the paper's Fig. 6;
* :mod:`.reference` - the recorded curves drawn faintly behind a live run, and their caption;
* :mod:`.texts` - :class:`~.texts.Texts`, the translatable texts each part registers.
"""
