"""``python -m imitenvs motions ...``: convert, inspect, generate and view motion clips.

Commands::

    motions convert IN OUT [--ground]   any supported format -> canonical .npz
    motions info FILE                   summary of a clip (any format) or a YAML dataset
    motions synth --out DIR             regenerate the default clips and datasets
    motions view FILE [--out V.gif|V.mp4] [--camera track|front]
                                        play on the humanoid (window), or write a video

Heavy imports (mujoco, the formats) happen inside the commands, so ``--help`` stays fast and
``view`` can choose the OpenGL backend before mujoco is imported.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from imitenvs.core.render import default_headless_gl, has_display


def _cmd_convert(args: argparse.Namespace) -> int:
    from imitenvs.motion.clip import save_clip
    from imitenvs.motion.formats import read_motion
    from imitenvs.motion.humanoid import load_humanoid
    from imitenvs.motion.quality import ground_clip

    clip = read_motion(args.input)
    if args.ground:
        clip = ground_clip(clip, load_humanoid())
    save_clip(clip, args.output)
    print(
        f"wrote {args.output}: {clip.num_frames} frames at {clip.fps:g} fps "
        f"({clip.duration:.2f} s, {clip.loop_mode})"
    )
    return 0


def _print_clip(path: Path) -> None:
    from imitenvs.motion.formats import read_motion
    from imitenvs.motion.humanoid import load_humanoid
    from imitenvs.motion.quality import clip_quality

    clip = read_motion(path)
    root_z = clip.root_pos[:, 2]
    print(f"file:        {path}")
    print(f"name:        {clip.name}")
    print(f"source:      {clip.source}")
    print(
        f"frames:      {clip.num_frames} at {clip.fps:g} fps = {clip.duration:.3f} s "
        f"({clip.loop_mode})"
    )
    print(f"skeleton:    {clip.skeleton.num_bodies} bodies, {len(clip.dof_names)} hinges")
    print(f"root height: {root_z.min():.3f} .. {root_z.max():.3f} m")
    displacement = clip.root_pos[-1] - clip.root_pos[0]
    print(f"root travel: {np.round(displacement, 3).tolist()} m")
    humanoid = load_humanoid()
    if clip.dof_names == humanoid.dof_names:
        print("quality on the AMP humanoid:")
        for key, value in clip_quality(clip, humanoid).as_dict().items():
            print(f"  {key:<20} {value:.4f}")


def _cmd_info(args: argparse.Namespace) -> int:
    from imitenvs.motion.dataset import is_dataset, read_dataset

    if not is_dataset(args.file):
        _print_clip(Path(args.file))
        return 0
    entries = read_dataset(args.file)
    total = sum(e.weight for e in entries)
    print(f"dataset {args.file}: {len(entries)} clips")
    for entry in entries:
        print(f"  {entry.weight / total:6.3f}  {entry.file}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from imitenvs.motion.synth import write_default_set

    for path in write_default_set(args.out):
        print(f"wrote {path}")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    if args.out is not None:
        default_headless_gl("rgb_array")
    from imitenvs.motion.formats import read_motion
    from imitenvs.motion.viewer import view_clip

    clip = read_motion(args.file)
    if args.out is None:
        if not has_display():
            raise ValueError("no display for a viewer window; write a video with --out clip.gif")
        view_clip(clip)
        return 0
    size = {"width": args.width, "height": args.height}
    path = view_clip(clip, args.out, fps=args.fps, camera=args.camera, **size)
    print(f"wrote {path}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``motions`` command group to the imitenvs CLI."""
    motions = subparsers.add_parser("motions", help="convert, inspect, generate, view clips")
    sub = motions.add_subparsers(dest="motions_command", required=True)

    p = sub.add_parser("convert", help="convert a clip (.npy AMP, .pkl MimicKit, .txt "
                       "DeepMimic, .npz) to the canonical .npz")  # fmt: skip
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument(
        "--ground",
        action="store_true",
        help="shift the clip so its lowest foot sole touches the floor",
    )
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("info", help="describe a clip or a YAML dataset")
    p.add_argument("file", type=Path)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("synth", help="generate the default clips (walk, run, turn_walk, "
                       "jump, wave) and YAML datasets")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("view", help="play a clip on the humanoid, or write a video")
    p.add_argument("file", type=Path)
    p.add_argument("--out", type=Path, default=None, help="video file (.gif, or .mp4 with "
                   "imageio-ffmpeg); without it a window opens")  # fmt: skip
    p.add_argument("--camera", default="track", choices=("track", "front"))
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--fps", type=float, default=None, help="video frame rate (default: "
                   "min(clip fps, 30))")  # fmt: skip
    p.set_defaults(func=_cmd_view)
