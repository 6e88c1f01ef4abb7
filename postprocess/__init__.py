"""microbat post-processing: microstructure metrics, electrochemical analytics, plots."""
