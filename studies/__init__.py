"""microbat studies: the application. Case files parsed into the libraries' types
(:mod:`studies.case`), the stages and the run manifest (:mod:`studies.app`), the `microbat`
command line (:mod:`studies.cli`) and the electrode validation against PyBaMM
(:mod:`studies.validation`). Nothing outside ``studies``, ``benchmarks`` and ``tests``
imports this package."""
