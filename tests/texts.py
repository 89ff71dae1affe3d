"""Small texts written for the tests: seeded sentence generators for English and French.

The vocabularies and templates are the project's own. Held-out test sentences come from
the same generator with another seed, so a pair trained on one sample sees new sentences.
"""

from __future__ import annotations

import random

_EN = {
    "adj": "old quiet grey small bright cold narrow heavy gentle patient tired clever silent "
           "wooden distant crowded careful hungry".split(),
    "noun": "captain sailor harbour window letter garden morning river village lantern rope "
            "kitchen stranger market doctor island bridge winter storm ship".split(),
    "verb": "watched carried followed opened painted remembered crossed mended answered "
            "praised counted noticed visited".split(),
    "adv": "slowly quietly again early together carefully often later".split(),
    "place": "near the harbour|behind the old church|across the river|at the edge of town|"
             "under the bridge|beside the kitchen door".split("|"),
}
_FR = {
    "adj": "vieux petit gris calme froid lourd patient fatigué lointain prudent silencieux "
           "étroit".split(),
    "noun": "capitaine marin port fenêtre lettre jardin matin fleuve village lanterne cuisine "
            "marché médecin pont hiver navire".split(),
    "verb": "regardait portait suivait ouvrait peignait traversait réparait répondait "
            "comptait visitait".split(),
    "adv": "lentement doucement encore souvent ensemble plus tard tôt".split(),
    "place": "près du port|derrière la vieille église|de l'autre côté du fleuve|au bord de la "
             "ville|sous le pont|à côté de la porte".split("|"),
}
_EN_T = [
    "The {adj} {noun} {verb} the {noun} {place}.",
    "Every {noun} in the village {verb} the {adj} {noun} {adv}.",
    "When the {noun} came home, the {adj} {noun} {verb} a {noun} {place}.",
    "She {verb} the {noun}, and he {verb} the {adj} {noun} {adv}.",
    "It was a {adj} {noun}, and nobody {verb} it {place}.",
    "They {verb} the {noun} {adv}, because the {noun} was {adj}.",
]
_FR_T = [
    "Le {noun} {adj} {verb} le {noun} {place}.",
    "Chaque {noun} du village {verb} le {noun} {adj} {adv}.",
    "Quand le {noun} rentrait, le {noun} {verb} une {noun} {place}.",
    "Elle {verb} le {noun}, et il {verb} le {noun} {adv}.",
    "C'était un {noun} {adj}, et personne ne le {verb} {place}.",
    "Ils {verb} le {noun} {adv}, parce que le {noun} était {adj}.",
]


def _sentences(words: dict, templates: list[str], rng: random.Random):
    while True:
        t = rng.choice(templates)
        out = []
        for part in t.split("{"):
            if "}" in part:
                key, rest = part.split("}", 1)
                out.append(rng.choice(words[key]) + rest)
            else:
                out.append(part)
        s = "".join(out)
        yield s[0].upper() + s[1:]


def _text(words, templates, n_chars: int, seed: int, para: int) -> str:
    rng = random.Random(seed)
    gen = _sentences(words, templates, rng)
    paras, cur, size = [], [], 0
    while size < n_chars:
        s = next(gen)
        cur.append(s)
        size += len(s) + 1
        if len(cur) >= para:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return "\n\n".join(paras)


def english(n_chars: int, seed: int = 0, para: int = 5) -> str:
    """English prose of about ``n_chars`` characters, paragraphs of ``para`` sentences."""
    return _text(_EN, _EN_T, n_chars, seed, para)


def french(n_chars: int, seed: int = 0, para: int = 5) -> str:
    """French prose of about ``n_chars`` characters."""
    return _text(_FR, _FR_T, n_chars, seed, para)
