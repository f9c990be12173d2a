"""The file system under both roots: paths and entries, comparing, case and normalization, owners.

Who may use the roots (:mod:`~engine.fs.access`), how two replicas' entries
compare (:mod:`~engine.fs.compare`), what a folder can hold apart
(:mod:`~engine.fs.casefold`), who owns what the sync writes
(:mod:`~engine.fs.owners`), how an owner is changed without following a
link (:mod:`~engine.fs.chown`) and what an inotify watch of a folder asks for
(:mod:`~engine.fs.watchmask`).  Above :mod:`engine.config`, below everything else.
"""
