"""Case files: one TOML file describes one simulation (or one stage of it).

A case has six tables, each validated into a frozen dataclass before any work starts:

    name = "d8_60um_3C"
    [geometry]            what electrode: a generated packing, a segmented image or a file
    [mesh]                how to mesh it (gmsh OCC for packings, SurfaceNets or voxels for images)
    [parameters]          a named parameter set plus dotted-key overrides and optional
                          material tables (ocp_table, diffusivity_table: CSV files)
    [[protocol.steps]]    constant current / rest / constant voltage steps, in order
    [solver]              solver preset, PETSc option overrides, time-step control
    [outputs]             results directory and what to write

Lengths in case files are in micrometres (keys end in ``_um``), currents in mA/cm^2 or
C-rates, times in seconds; the library works in SI. Relative paths are relative to the
case file. ``microbat case --schema`` prints every key with its default and meaning.

The tables ``[[protocol.steps]]``, ``[solver]`` and ``[outputs]`` are the libraries' own
input types (:mod:`models.protocol`, :mod:`models.settings`, :mod:`models.outputs`), parsed
here directly and re-exported under their case-file names; this module keeps the geometry,
mesh and parameter tables and the :class:`Case` that composes them. Every error names the
dotted TOML key (:class:`CaseError`, i.e. :class:`foundation.schema.SchemaError`).

The command line can change a case without copying it (:class:`CaseOverrides`):
``--set KEY=VALUE`` puts a TOML value at a dotted key (``mesh.interface_size_um=1.2``,
``protocol.steps[0].c_rate=2`` or ``protocol.steps.0.c_rate=2``; below a free-form table such
as ``parameters.overrides`` the rest is one key, so ``parameters.overrides.nsd.porosity=0.3``
sets the parameter ``"nsd.porosity"``), and ``--until-voltage`` / ``--max-duration`` set the
voltage limit / longest duration of every constant-current step. They are validated with the
file and refused naming the argument; paths given this way are relative to the working
directory.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from foundation.errors import InputError
from foundation.schema import SchemaError, build, build_tagged, set_key, spec, to_plain
from meshing.options import MeshOptions
from meshing.packing_spec import AM_FRACTION_RANGE, PackingSpec
from models.outputs import OutputSettings
from models.parameters import ParameterSet, parameter_set
from models.parameters.tabulated import with_tables
from models.protocol import STEP_KINDS, CCStep, CVStep, Protocol, RestStep
from models.settings import SolverSettings

UM = 1e-6
CaseError = SchemaError
"""A case file (or command-line case) that cannot be accepted; the message names the key."""
Outputs = OutputSettings
"""The ``[outputs]`` table (:class:`models.outputs.OutputSettings`)."""

__all__ = [
    "Case",
    "CaseError",
    "CaseOverrides",
    "CCStep",
    "CVStep",
    "Geometry",
    "ImageGeometry",
    "ImageParticles",
    "ImageSegmentation",
    "MeshSettings",
    "OutputSettings",
    "Outputs",
    "Override",
    "PackingGeometry",
    "Parameters",
    "Protocol",
    "RestStep",
    "SolverSettings",
    "case_from_dict",
    "load_case",
]


# ----------------------------------------------------------------------------- geometry
@dataclass(frozen=True, kw_only=True)
class PackingGeometry:
    """A synthetic electrode of spherical particles (docs/model.md, "The paper's electrode cases")."""

    arrangement: Literal["monodisperse", "bimodal", "layered", "graded", "aligned_channels"] = spec(
        "monodisperse", help="particle arrangement"
    )
    diameter_um: float = spec(8.0, gt=0, unit="um", help="particle diameter (monodisperse, graded, channels)")
    diameter_spread: float = spec(0.0, min=0, max=0.5, help="relative standard deviation of diameters")
    small_diameter_um: float = spec(8.0, gt=0, unit="um", help="small particles (bimodal, layered)")
    large_diameter_um: float = spec(12.0, gt=0, unit="um", help="large particles (bimodal, layered)")
    small_volume_share: float = spec(0.5, min=0, max=1, help="share of AM volume in small particles (bimodal)")
    layer_thickness_um: float = spec(
        30.0, min=0, unit="um", help="small-particle layer next to the separator (layered)"
    )
    am_fraction: float = spec(
        0.43, min=AM_FRACTION_RANGE[0], max=AM_FRACTION_RANGE[1],
        help="target active-material volume fraction (the range the packer can reach)",
    )
    am_fraction_gradient: float = spec(
        0.0, min=-0.4, max=0.4, help="AM fraction at the separator minus at the collector (graded, aligned_channels)"
    )
    channel_diameter_um: float = spec(10.0, gt=0, unit="um", help="pore channel diameter (aligned_channels)")
    channel_spacing_um: float = spec(30.0, gt=0, unit="um", help="channel centre spacing (aligned_channels)")
    lateral_um: tuple[float, float] = spec((40.0, 40.0), gt=0, unit="um", help="box size in x and y")
    thickness_um: float = spec(60.0, gt=0, unit="um", help="electrode thickness L")
    seed: int = spec(0, min=0, help="random seed (reproducible packings)")

    def to_spec(self) -> PackingSpec:
        """The generator's spec (SI); its checks (particles fit the box, packable AM fraction)
        run here, so a case is refused before any packing starts.

        Raises:
            InputError: naming the ``geometry.packing`` key when the generator cannot pack it.
        """
        try:
            return PackingSpec(
                box=(self.lateral_um[0] * UM, self.lateral_um[1] * UM, self.thickness_um * UM),
                arrangement=self.arrangement,
                diameter=self.diameter_um * UM,
                diameter_spread=self.diameter_spread,
                small_diameter=self.small_diameter_um * UM,
                large_diameter=self.large_diameter_um * UM,
                small_volume_share=self.small_volume_share,
                layer_thickness=self.layer_thickness_um * UM,
                am_fraction=self.am_fraction,
                am_fraction_gradient=self.am_fraction_gradient,
                channel_diameter=self.channel_diameter_um * UM,
                channel_spacing=self.channel_spacing_um * UM,
                seed=self.seed,
            )
        except InputError as err:
            raise InputError(f"geometry.packing: {err}") from None


@dataclass(frozen=True, kw_only=True)
class ImageSegmentation:
    """How a grey-value volume is filtered and segmented (``grey = true``); see meshing/segmentation.py."""

    method: Literal["multi_otsu", "random_forest"] = spec(
        "multi_otsu", help="multi_otsu = global thresholds; random_forest = classifier trained on training_labels"
    )
    grey_order: tuple[str, ...] = spec(
        (), help="multi_otsu: phase names from darkest to brightest; empty = pore, cbd, am"
    )
    training_labels: str = spec(
        "",
        help="random_forest: annotation volume shaped like the image (before crop): 0 = not annotated, "
        "k = k-th phase of labels",
    )
    denoise: bool = spec(True, help="non-local-means denoising (strength from the estimated noise)")
    nlm_patch_size: int = spec(3, min=1, max=9, help="NLM patch edge [voxels], odd")
    nlm_patch_distance: int = spec(3, min=1, max=10, help="NLM search radius [voxels]")
    nlm_h_factor: float = spec(0.8, gt=0, max=5, help="NLM strength h / noise sigma")
    unsharp_radius_voxels: float = spec(1.0, min=0, max=10, help="unsharp-mask Gaussian radius; 0 = no sharpening")
    unsharp_amount: float = spec(1.5, min=0, max=10, help="unsharp-mask gain (1.5 = Fiji's weight 0.6)")
    forest_trees: int = spec(32, min=1, max=1000, help="random_forest: number of trees")
    forest_max_depth: int = spec(12, min=1, max=64, help="random_forest: depth limit of a tree")
    feature_sigma_max_voxels: float = spec(4.0, min=0.5, max=32, help="random_forest: largest feature scale")
    workers: int = spec(1, min=1, max=256, help="threads for NLM slabs, features and the forest")
    seed: int = spec(0, min=0, help="random_forest: seed of the forest and the sample subset")


@dataclass(frozen=True, kw_only=True)
class ImageParticles:
    """How the active material is split into particles (``separate_particles = true``); see meshing/particles.py."""

    method: Literal["peak_local_max", "h_maxima", "snow"] = spec(
        "peak_local_max", help="watershed markers: distance-map peaks, h-maxima, or PoreSpy's SNOW"
    )
    diameter_um: float = spec(0.0, min=0, unit="um", help="expected (smallest common) particle diameter; 0 = estimate")
    min_distance_fraction: float = spec(0.6, gt=0, max=4, help="peak_local_max: marker spacing / expected radius")
    min_peak_fraction: float = spec(0.3, min=0, max=1, help="peak_local_max: lowest peak height / expected radius")
    h_fraction: float = spec(0.2, gt=0, max=1, help="h_maxima: maximum depth h / expected radius")


@dataclass(frozen=True, kw_only=True)
class ImageGeometry:
    """A segmented (or grey-value) volume image."""

    path: str = spec(help="image file: .tif/.tiff (multi-page), folder of slices, .npy, .raw, .h5/.hdf5, .npz")
    voxel_size_um: float = spec(gt=0, unit="um", help="voxel edge length")
    labels: dict[str, int] = spec(
        default_factory=lambda: {"pore": 0, "am": 85, "cbd": 170},
        help="phase name -> grey value (names: pore, am, cbd)",
    )
    through_plane_axis: int = spec(
        0, min=0, max=2, help="array axis of the electrode thickness (index 0 at the collector)"
    )
    crop: tuple[int, ...] = spec((), min=0, help="[i0, i1, j0, j1, k0, k1] voxel bounds, empty = whole volume")
    flip_through_plane: bool = spec(
        False, help="reverse the thickness axis: the collector side becomes the separator side (the paper's RPC)"
    )
    downsample: int = spec(1, min=1, max=16, help="integer downsampling factor (mode filter)")
    raw_shape: tuple[int, ...] = spec((), min=1, help=".raw files: array shape")
    raw_dtype: str = spec("uint8", help=".raw files: NumPy dtype")
    dataset: str = spec("", help="HDF5 files: dataset name")
    min_fragment_um: float = spec(
        1.5,
        min=0,
        unit="um",
        help="isolated AM fragments with equivalent-sphere diameter below this are dead "
        "(given to the surrounding phase); 0 = keep all",
    )
    grey: bool = spec(False, help="the file holds grey values: filter and segment it ([geometry.image.segmentation])")
    segmentation: ImageSegmentation = spec(default_factory=ImageSegmentation)
    separate_particles: bool = spec(False, help="split the AM into particles (distance map + watershed)")
    particles: ImageParticles = spec(default_factory=ImageParticles)

    def __post_init__(self) -> None:
        if self.grey and self.segmentation.method == "random_forest" and not self.segmentation.training_labels:
            raise ValueError(
                "segmentation.method = 'random_forest' needs segmentation.training_labels "
                "(an annotation volume: 0 = not annotated, k = k-th phase of labels)"
            )


@dataclass(frozen=True, kw_only=True)
class ParticleListGeometry:
    """Spheres from a list the user has (CT particle analysis, DEM, another tool); see meshing/particle_list.py."""

    path: str = spec(help="CSV (header x, y, z, r|radius|d|diameter[, label]) or JSON list of such objects")
    unit: Literal["m", "mm", "um", "nm"] = spec("um", help="length unit of the file's coordinates and radii")
    box_um: tuple[float, ...] = spec(
        (), gt=0, unit="um", help="[Lx, Ly, thickness] of the electrode box; empty = the spheres' bounding box"
    )
    origin_um: tuple[float, ...] = spec(
        (), unit="um", help="tool coordinates [um] of the box corner; empty = the spheres' lower bounding-box corner"
    )
    through_plane_axis: int = spec(2, min=0, max=2, help="the file's axis of the electrode thickness (collector low)")
    contacts: Literal["neck", "nearest"] = spec(
        "neck", help="neck = touching spheres get a neck (DEM contacts); nearest = neck or gap, whichever is nearer"
    )

    def __post_init__(self) -> None:
        for key in ("box_um", "origin_um"):
            if getattr(self, key) and len(getattr(self, key)) != 3:
                raise ValueError(f"{key}: {list(getattr(self, key))}; accepted: three values or empty")


@dataclass(frozen=True, kw_only=True)
class Geometry:
    source: Literal["packing", "image", "file", "particle_list"] = spec(
        "packing", help="packing | image | file (a saved .npz record) | particle_list (CSV/JSON of spheres)"
    )
    packing: PackingGeometry = spec(default_factory=PackingGeometry)
    image: ImageGeometry | None = spec(None)
    particle_list: ParticleListGeometry | None = spec(None)
    file: str = spec("", help="source = file: a packing or labelled-volume .npz written by microbat")

    @property
    def source_file(self) -> str | None:
        """The file this geometry is read from, as written in the case (None: generated)."""
        if self.source == "image" and self.image is not None:
            return self.image.path
        if self.source == "particle_list" and self.particle_list is not None:
            return self.particle_list.path
        if self.source == "file":
            return self.file
        return None


# ----------------------------------------------------------------------------- mesh
@dataclass(frozen=True, kw_only=True)
class MeshSettings:
    method: Literal["auto", "occ", "surface_nets", "voxel"] = spec(
        "auto", help="auto = occ for packings, surface_nets for images; voxel = 6 tetrahedra per voxel (images)"
    )
    interface_size_um: float = spec(
        0.0,
        min=0,
        unit="um",
        help="packings: element size at the AM interface; 0 = r_mean/5 (images: always one voxel)",
    )
    bulk_size_factor: float = spec(
        3.0,
        min=1,
        max=20,
        help="bulk element size / interface size (images: interior coarsening, capped at 1.5 voxels)",
    )
    surface_size_factor: float = spec(
        1.0,
        min=0.05,
        max=1,
        help="packings: element size on the particle surfaces / interface size (< 1 grades the mesh towards "
        "the surfaces, resolving the solid diffusion layer; 1 = no extra grading)",
    )
    separator_size_um: float = spec(
        0.0, min=0, unit="um", help="element size in the separator; 0 = max(bulk size, L_sep/10)"
    )
    boundary_layers: int = spec(
        0, min=0, max=40,
        help="element layers (prisms) inserted under the particle surfaces to resolve the solid diffusion layer; "
        "0 = none",
    )
    boundary_layer_first: float = spec(
        0.02, min=1e-4, max=1, help="outermost layer thickness / total depth of the layers"
    )
    boundary_layer_share: float = spec(
        0.3, min=0.01, max=1.5, help="total depth of the layers / local surface element size"
    )
    sphere_facets: bool | Literal["auto"] = spec(
        "auto", help="packings: move the surface vertices so that each faceted particle has its sphere's "
        "volume-to-surface ratio 3 V / A = R (removes the coarse mesh's shorter diffusion length); auto = for "
        "packings and particle lists, not for images; with solver.solid_degree = auto such a mesh gets quadratic c_s"
    )
    smoothing_iterations: int = spec(4, min=0, max=64, help="SurfaceNets smoothing iterations (images)")
    resolve_cbd: bool = spec(
        False, help="images: keep the carbon-binder domain as cell tag 3 (else lumped into the NSD, tag 1)"
    )
    max_cells: int = spec(5_000_000, min=1000, help="refuse meshes estimated above this many tetrahedra")
    threads: int = spec(0, min=0, help="gmsh threads; 0 = all cores (a fixed count makes meshes reproducible)")
    algorithm_3d: Literal["hxt", "delaunay"] = spec(
        "hxt", help="gmsh 3D algorithm (hxt retries with delaunay on failure)"
    )

    def options(self) -> MeshOptions:
        """The :class:`meshing.options.MeshOptions` (SI units)."""
        return MeshOptions(
            interface_size=self.interface_size_um * 1e-6,
            bulk_size_factor=self.bulk_size_factor,
            surface_size_factor=self.surface_size_factor,
            separator_size=self.separator_size_um * 1e-6,
            boundary_layers=self.boundary_layers,
            boundary_layer_first=self.boundary_layer_first,
            boundary_layer_share=self.boundary_layer_share,
            sphere_facets=self.sphere_facets,
            smoothing_iterations=self.smoothing_iterations,
            resolve_cbd=self.resolve_cbd,
            max_cells=self.max_cells,
            threads=self.threads,
            algorithm_3d=self.algorithm_3d,
        )


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True, kw_only=True)
class Parameters:
    set: str = spec("baseline", help="parameter set name (see `microbat info --parameter-sets`)")
    overrides: dict[str, float | str] = spec(
        default_factory=dict, help='dotted keys, e.g. "nsd.porosity" = 0.23'
    )
    ocp_table: str = spec(
        "", help="CSV file 'stoichiometry,U in V' replacing the set's OCP (monotone cubic; relative to the case file)"
    )
    diffusivity_table: str = spec(
        "", help="CSV file 'stoichiometry,D_s in m^2/s' replacing the set's D_s (cubic in log10 D_s)"
    )

    def __post_init__(self) -> None:
        try:
            parameter_set(self.set, self.overrides)
        except (KeyError, TypeError, ValueError) as err:
            raise CaseError(f"parameters: {err.args[0] if err.args else err}") from None
        for key in ("ocp_table", "diffusivity_table"):
            path = getattr(self, key)
            if path:
                try:
                    with_tables(parameter_set(self.set), **{key.removesuffix("_table"): path})
                except InputError as err:
                    raise CaseError(f"parameters.{key}: {err}") from None

    def resolve(self) -> ParameterSet:
        """The :class:`models.parameters.ParameterSet` (with the tables, if given)."""
        return with_tables(
            parameter_set(self.set, self.overrides),
            ocp=self.ocp_table or None,
            diffusivity=self.diffusivity_table or None,
        )


TABLE_KEYS = ("ocp_table", "diffusivity_table")
"""Keys of [parameters] that are file paths (relative to the case file)."""


# ----------------------------------------------------------------------------- case
@dataclass(frozen=True, kw_only=True)
class Case:
    name: str = spec("case", help="case name (default: the file name)")
    description: str = spec("")
    geometry: Geometry = spec(default_factory=Geometry)
    mesh: MeshSettings = spec(default_factory=MeshSettings)
    parameters: Parameters = spec(default_factory=Parameters)
    protocol: Protocol = spec(default_factory=Protocol)
    solver: SolverSettings = spec(default_factory=SolverSettings)
    outputs: OutputSettings = spec(default_factory=OutputSettings)
    base_dir: str = spec(".", help="directory relative paths refer to (set from the case file)")

    def __post_init__(self) -> None:
        g = self.geometry
        if g.source == "image" and g.image is None:
            raise ValueError("geometry.source = 'image' needs a [geometry.image] table")
        if g.source == "file" and not g.file:
            raise ValueError("geometry.source = 'file' needs geometry.file")
        if g.source == "particle_list" and g.particle_list is None:
            raise ValueError("geometry.source = 'particle_list' needs a [geometry.particle_list] table")

    def path(self, relative: str) -> Path:
        """Resolve a path written in the case file."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def results_dir(self, override: str | Path | None = None) -> Path:
        if override:
            return Path(override)
        if self.outputs.directory:
            return self.path(self.outputs.directory)
        return Path("results") / self.name


def case_from_dict(data: dict[str, Any], base_dir: str | Path = ".", name: str = "case") -> Case:
    """Validate plain data (as read from TOML) into a :class:`Case`."""
    data = dict(data)
    protocol = data.pop("protocol", None)
    parameters = data.get("parameters")
    if isinstance(parameters, dict):  # table paths are relative to the case file
        relative = [k for k in TABLE_KEYS if isinstance(parameters.get(k), str) and parameters[k]]
        data["parameters"] = parameters | {
            key: str(Path(base_dir) / Path(parameters[key]).expanduser()) for key in relative
        }
    case = build(Case, data | {"base_dir": str(base_dir)} | ({} if "name" in data else {"name": name}), "")
    if protocol is not None:
        if not isinstance(protocol, dict) or set(protocol) - {"steps"}:
            extra = sorted(set(protocol) - {"steps"}) if isinstance(protocol, dict) else protocol
            raise CaseError(
                f"protocol: unknown key(s) {extra}; accepted: steps (an array of tables [[protocol.steps]])"
            )
        raw_steps = protocol.get("steps", [])
        if not isinstance(raw_steps, list):
            raise CaseError("protocol.steps: expected an array of tables [[protocol.steps]]")
        steps = tuple(build_tagged(STEP_KINDS, "mode", s, f"protocol.steps[{i}]") for i, s in enumerate(raw_steps))
        if not steps:
            raise CaseError("protocol.steps: at least one step is needed")
        case = replace(case, protocol=Protocol(steps=steps))
    return case


def load_case(path: str | Path, require_protocol: bool = True, overrides: CaseOverrides | None = None) -> Case:
    """Read and validate a TOML case file (:func:`check_case` included), with the
    command-line ``overrides`` on top. Without ``require_protocol`` (commands that only build
    the geometry or the mesh) the ``[protocol]`` table may be left out."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise CaseError(f"case file {path}: cannot be read ({err.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CaseError(f"case file {path}: not valid TOML ({err})") from None
    if not data:
        raise CaseError(f"case file {path}: is empty; a case needs at least a [[protocol.steps]] table "
                        "(`microbat case --schema` lists every key)")
    if require_protocol and "protocol" not in data:
        raise CaseError(f"case file {path}: no [protocol]; accepted: one or more [[protocol.steps]] tables, "
                        "e.g. mode = 'cc', c_rate = 1.0")
    try:
        case = case_from_dict(data, base_dir=path.parent.resolve(), name=path.stem)
    except InputError as err:
        raise CaseError(f"case file {path}: {err}") from None
    if overrides:
        return overrides.apply(case)
    try:
        check_case(case)
    except InputError as err:
        raise CaseError(f"case file {path}: {err}") from None
    return case


# ----------------------------------------------------------------------------- command line
PATH_KEYS = (
    "geometry.file", "geometry.image.path", "geometry.image.segmentation.training_labels",
    "parameters.ocp_table", "parameters.diffusivity_table", "outputs.directory",
)
"""Keys that are file paths: given with ``--set`` they are relative to the working directory."""
_KEY_PART = re.compile(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_+-]+)|\[(\d+)\]')


@dataclass(frozen=True)
class Override:
    """One change of a case from the command line: ``value`` at the dotted ``path``."""

    path: tuple[str, ...]
    value: Any
    argument: str
    """As typed (``--set mesh.interface_size_um=1.2``); errors and the manifest name it."""

    @classmethod
    def parse(cls, text: str) -> Override:
        """``KEY=VALUE`` of ``--set``: a dotted key (``[N]`` or ``.N`` for array items, quotes
        for a key with dots) and a TOML value (``2``, ``2.5``, ``true``, ``"text"``,
        ``[1, 2]``); a value that is not TOML, such as ``occ``, is taken as text."""
        argument = f"--set {text}"
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"{argument}: expected KEY=VALUE; accepted: e.g. --set mesh.interface_size_um=1.2, "
                             "--set protocol.steps[0].c_rate=2, --set parameters.overrides.nsd.porosity=0.3")
        path, pos = [], 0
        while True:
            match = _KEY_PART.match(key, pos)
            if not match:
                raise InputError(f"{argument}: {key!r} is not a dotted key (at character {pos + 1}); accepted: "
                                 "names joined by dots, [N] or .N for array items, quotes around a key with dots")
            path.append(next(g for g in match.groups() if g is not None))
            pos = match.end()
            if pos == len(key):
                break
            if key[pos] == ".":
                pos += 1
            elif key[pos] != "[":
                raise InputError(f"{argument}: {key!r} is not a dotted key (at character {pos + 1}); accepted: "
                                 "names joined by dots, [N] or .N for array items, quotes around a key with dots")
        return cls(tuple(path), _toml_value(raw.strip()), argument)


def _toml_value(text: str) -> Any:
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return parsed["value"] if set(parsed) == {"value"} else text


@dataclass(frozen=True)
class CaseOverrides:
    """What the command line changes in a case: the ``--set`` keys in order, then the voltage
    limit (``--until-voltage``) and longest duration (``--max-duration``) of every
    constant-current step."""

    settings: tuple[Override, ...] = ()
    until_voltage_V: float | None = None
    max_duration_s: float | None = None
    arguments: tuple[str, ...] = field(init=False)
    """Every override as typed, for the manifest (a run is repeated with the same arguments)."""

    def __post_init__(self) -> None:
        shortcuts = [f"--until-voltage {self.until_voltage_V:g}"] if self.until_voltage_V is not None else []
        shortcuts += [f"--max-duration {self.max_duration_s:g}"] if self.max_duration_s is not None else []
        object.__setattr__(self, "arguments", tuple(o.argument for o in self.settings) + tuple(shortcuts))

    @classmethod
    def from_arguments(cls, settings: Sequence[str] = (), until_voltage_V: float | None = None,
                       max_duration_s: float | None = None) -> CaseOverrides:
        return cls(tuple(Override.parse(s) for s in settings), until_voltage_V, max_duration_s)

    def __bool__(self) -> bool:
        return bool(self.arguments)

    def apply(self, case: Case) -> Case:
        """``case`` with the overrides, validated like a case file (:func:`check_case`
        included).

        Raises:
            InputError: naming the argument (``--set KEY=VALUE``, ``--until-voltage V``), the
                key and what is accepted.
        """
        data = to_plain(case)
        data.pop("base_dir")
        keys: dict[str, str] = {}  # key as errors name it -> argument
        for override in self.settings:
            keys[self._set(data, override)] = override.argument
        for name, value, argument in (("until_voltage_V", self.until_voltage_V, "--until-voltage"),
                                      ("max_duration_s", self.max_duration_s, "--max-duration")):
            if value is None:
                continue
            argument = f"{argument} {value:g}"
            steps = [i for i, s in enumerate(data["protocol"]["steps"]) if s.get("mode") == "cc"]
            if not steps:
                raise InputError(f"{argument}: the case has no constant-current step (mode = 'cc'); accepted: "
                                 "a case with one, or --set protocol.steps[N].KEY=VALUE for other steps")
            for i in steps:
                keys[self._set(data, Override(("protocol", "steps", str(i), name), value, argument))] = argument
        try:
            changed = case_from_dict(data, base_dir=case.base_dir)
            check_case(changed)
        except InputError as err:
            raise InputError(f"{_blame(str(err), keys)}: {err}") from None
        return changed

    @staticmethod
    def _set(data: dict[str, Any], override: Override) -> str:
        if override.path[0] == "base_dir":
            raise InputError(f"{override.argument}: base_dir is set from the case file's location; accepted: "
                             "any other key of `microbat case --schema`")
        value = override.value
        if ".".join(override.path) in PATH_KEYS and isinstance(value, str) and value:
            value = str(Path(value).expanduser().absolute())
        try:
            return set_key(data, Case, override.path, value)
        except SchemaError as err:
            raise InputError(f"{override.argument}: {err}") from None


def _blame(message: str, keys: dict[str, str]) -> str:
    """The arguments that set the key an error message starts with (or a key inside it, or
    the table it is in); all of them when none does."""
    where = message.split(":", 1)[0].strip()
    related = [
        argument for key, argument in keys.items()
        if key == where or key.startswith((f"{where}.", f"{where}[")) or where.startswith((f"{key}.", f"{key}["))
    ]
    return ", ".join(dict.fromkeys(related or keys.values()))


def check_case(case: Case) -> None:
    """What the later stages would refuse, checked before any of them starts: the packing
    can be generated, the files exist, the first current step can move from the initial
    open-circuit voltage towards its voltage limit.

    Raises:
        InputError: naming the key, the value and what would be accepted.
    """
    g = case.geometry
    if g.source == "packing":
        g.packing.to_spec()
    files = {"geometry.file": g.file} if g.source == "file" else {}
    if g.source == "image" and g.image is not None:
        files["geometry.image.path"] = g.image.path
        if g.image.grey and g.image.segmentation.training_labels:
            files["geometry.image.segmentation.training_labels"] = g.image.segmentation.training_labels
    if g.source == "particle_list" and g.particle_list is not None:
        files["geometry.particle_list.path"] = g.particle_list.path
    for key, name in files.items():
        if not case.path(name).exists():
            raise InputError(f"{key}: {case.path(name)} does not exist (relative paths are relative to the case file)")
    check_first_voltage_limit(case.protocol, case.parameters.resolve())


def check_first_voltage_limit(protocol: Protocol, parameters: ParameterSet) -> None:
    """The first constant-current step starts at the initial open-circuit voltage
    (``cell.initial_voltage``): a discharge must stop below it, a charge above it, or the
    run would end at once with nothing delivered."""
    cell = parameters.cell
    for index, step in enumerate(protocol.steps):
        if step.mode == "cv":
            return
        if step.mode != "cc":
            continue
        discharge = step.direction == "discharge"
        limit = step.until_voltage_V or (cell.cutoff_voltage if discharge else cell.upper_voltage)
        if limit > 0 and (limit >= cell.initial_voltage if discharge else limit <= cell.initial_voltage):
            key = f"protocol.steps[{index}].until_voltage_V" if step.until_voltage_V else "the parameter set's limit"
            raise InputError(
                f"{key}: {limit:g} V is {'above' if discharge else 'below'} the initial open-circuit voltage "
                f"{cell.initial_voltage:.4g} V, so the {step.direction} would stop at once; accepted: a limit "
                f"{'below' if discharge else 'above'} {cell.initial_voltage:.4g} V (or direction = "
                f"'{'charge' if discharge else 'discharge'}')"
            )
        return
