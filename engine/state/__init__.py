"""What native-sync's processes share in ``SYNC_RUNTIME_DIR``: typed files, written atomically.

:mod:`~engine.state.shared` holds one frozen dataclass per file,
:mod:`~engine.state.jsonfile` how they are read and replaced, and
:mod:`~engine.state.progress` the cold start's progress, :mod:`~engine.state.trust`
the one-shot's word that watch mode may start from its archive,
:mod:`~engine.state.folders` the folder each root was at start.  Above
:mod:`engine.config` and :mod:`engine.fs`; never imports :mod:`engine.unison`.
"""
