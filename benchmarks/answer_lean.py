"""Where does a plug's most frequent answer come from? A lean, taken apart user by user.

Reads a LaMP_2-format dev set of a sample whose users each have one favourite tag (lamp2_tags, lamp2_noisy) and
predictions for it (`minipplug predict --out P.json`). For the answer given most often it prints how many of those
answers went to users whose favourite it is (what the oracle answers too), how many were cued by the question, and
which users received the rest: a lean made of one misread user reads differently from a fallback spread over many.

    python benchmarks/answer_lean.py --data DIR --preds P.json
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from minipplug.lamp.data import Example, load_examples, read_outputs
from minipplug.lamp.rules import majority_label
from minipplug.lamp.samples.tags import cued_tags


def favourite(example: Example) -> tuple[str, float]:
    """(the history's majority tag, its share of the history): the user's favourite where noise is a minority."""
    tag = majority_label(example, "LaMP_2")
    return tag, sum(item["tag"] == tag for item in example.profile) / len(example.profile)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with dev_questions.json and dev_outputs.json")
    ap.add_argument("--preds", required=True, help="predictions in LaMP's outputs format")
    args = ap.parse_args()
    folder = Path(args.data)
    dev = load_examples("LaMP_2", folder / "dev_questions.json", folder / "dev_outputs.json")
    preds = read_outputs(args.preds, "LaMP_2")
    answers, golds = Counter(preds[e.id] for e in dev), Counter(e.target for e in dev)
    top, n = answers.most_common(1)[0]
    hits = [e for e in dev if preds[e.id] == top]
    fans = [e for e in dev if favourite(e)[0] == top]
    print(f"{len(dev)} questions; accuracy {sum(preds[e.id] == e.target for e in dev) / len(dev):.3f}")
    print(f"most frequent answer {top!r}: {n} times, gold holds it {golds[top]} times ({n / golds[top]:.1f}x); the")
    print(f"  favourite-tag answer (the oracle's) would give it {len(fans)} times ({len(fans) / golds[top]:.1f}x)")
    print(f"  to users whose favourite it is: {sum(favourite(e)[0] == top for e in hits)}")
    print(f"  cued by the question: {sum(top in cued_tags(e.query) for e in hits)}")
    for user, k in Counter(e.user for e in hits).most_common():
        mine = [e for e in dev if e.user == user]
        fav, share = favourite(mine[0])
        print(
            f"  {user}: {k} of its {len(mine)} answers; favourite {fav!r} ({share:.0%} of {len(mine[0].profile)} items)"
        )


if __name__ == "__main__":
    main()
