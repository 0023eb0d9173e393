#!/usr/bin/env python3
"""Writes Sources/Datasets/DemoText/: a small corpus in the Penn Treebank text format, generated
from a probabilistic grammar of the project's own making, for the recurrent-cell demo and tests.

The format is that of Mikolov's PTB files (`ptb.train.txt`, …), which DARTS reads as
`train.txt`, `valid.txt`, `test.txt`: one sentence per line, lower case, tokens separated by
single spaces, each line starting with a space, numbers written `N`, and rare words replaced by
`<unk>`. The grammar has number agreement (a singular subject takes a singular verb), nested
prepositional phrases, relative clauses and words drawn with Zipf-like frequencies, so that a
language model can learn it: the next token is far from uniform given the history, and
perplexity falls well below the unigram perplexity as a model learns the structure.

Deterministic: the same seed gives the same bytes.

Usage: python3 Scripts/make_demo_corpus.py [DEST_DIR]
"""
import os
import random
import sys

SEED = 2019
SENTENCES = {"train": 9000, "valid": 900, "test": 900}

NOUNS = [  # (singular, plural)
    ("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("child", "children"), ("teacher", "teachers"),
    ("farmer", "farmers"), ("city", "cities"), ("river", "rivers"), ("house", "houses"), ("market", "markets"),
    ("company", "companies"), ("share", "shares"), ("price", "prices"), ("bank", "banks"), ("report", "reports"),
    ("student", "students"), ("book", "books"), ("road", "roads"), ("tree", "trees"), ("garden", "gardens"),
    ("doctor", "doctors"), ("worker", "workers"), ("village", "villages"), ("letter", "letters"), ("friend", "friends"),
    ("machine", "machines"), ("window", "windows"), ("storm", "storms"), ("song", "songs"), ("horse", "horses"),
]
VERBS = [  # (singular, plural) transitive
    ("sees", "see"), ("likes", "like"), ("finds", "find"), ("follows", "follow"), ("buys", "buy"),
    ("sells", "sell"), ("reads", "read"), ("builds", "build"), ("watches", "watch"), ("helps", "help"),
    ("visits", "visit"), ("owns", "own"), ("carries", "carry"), ("describes", "describe"), ("remembers", "remember"),
]
INTRANSITIVE = [("sleeps", "sleep"), ("runs", "run"), ("waits", "wait"), ("falls", "fall"), ("rises", "rise"),
                ("sings", "sing"), ("works", "work"), ("grows", "grow")]
ADJECTIVES = ["old", "new", "small", "large", "quiet", "red", "green", "happy", "early", "strong", "busy",
              "local", "young", "dark", "bright", "cold"]
ADVERBS = ["quickly", "slowly", "again", "today", "often", "yesterday", "quietly", "later"]
PREPOSITIONS = ["near", "in", "behind", "with", "under", "from", "across"]
RARE = ["<unk>"]


def zipf(rng, items, s=1.1):
    weights = [1 / (i + 1) ** s for i in range(len(items))]
    return rng.choices(items, weights)[0]


def noun_phrase(rng, plural, depth):
    words = []
    if plural:
        words.append(zipf(rng, ["the", "some", "many", "N", "these"]))
    else:
        words.append(zipf(rng, ["the", "a", "every", "this", "one"]))
    while rng.random() < 0.35:
        words.append(zipf(rng, ADJECTIVES))
    noun = zipf(rng, NOUNS)
    words.append("<unk>" if rng.random() < 0.03 else noun[1 if plural else 0])
    if depth < 2 and rng.random() < 0.25:
        words += [zipf(rng, PREPOSITIONS)] + noun_phrase(rng, rng.random() < 0.4, depth + 1)
    if depth < 1 and rng.random() < 0.12:
        words += ["that"] + verb_phrase(rng, plural, depth + 1)
    return words


def verb_phrase(rng, plural, depth):
    if rng.random() < 0.7:
        verb = zipf(rng, VERBS)
        words = [verb[1 if plural else 0]] + noun_phrase(rng, rng.random() < 0.4, depth + 1)
    else:
        verb = zipf(rng, INTRANSITIVE)
        words = [verb[1 if plural else 0]]
    if rng.random() < 0.3:
        words.append(zipf(rng, ADVERBS))
    return words


def sentence(rng):
    plural = rng.random() < 0.4
    words = noun_phrase(rng, plural, 0) + verb_phrase(rng, plural, 0)
    if rng.random() < 0.15:
        other = rng.random() < 0.4
        words += [zipf(rng, ["and", "but", "while"])] + noun_phrase(rng, other, 0) + verb_phrase(rng, other, 0)
    return words


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "Sources", "Datasets", "DemoText")
    os.makedirs(dest, exist_ok=True)
    rng = random.Random(SEED)
    for split, count in SENTENCES.items():
        lines = [" " + " ".join(sentence(rng)) + " \n" for _ in range(count)]
        with open(os.path.join(dest, f"{split}.txt"), "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        tokens = sum(len(line.split()) + 1 for line in lines)
        print(f"{split}.txt: {count} lines, {tokens} tokens with <eos>")


if __name__ == "__main__":
    main()
