"""microbat meshing: labelled volumes, synthetic packings, gmsh models, dolfinx meshes."""
