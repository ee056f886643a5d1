"""Sentiment of a feedback comment: positive, neutral or negative, in English or Russian.

The engine is VADER (Hutto & Gilbert, 2014; the `vaderSentiment` package, which ships its
lexicon): valence per word, boosters ("very"), negation ("not bad"), "but" shifting weight to the
second clause, capitals and exclamation marks. English text goes through it as it is.

Russian text goes through the same rules with a Russian lexicon kept in this app
(`surveys/data/ru_sentiment.tsv`: Snowball stems of common support-feedback words, valence on
VADER's -4..+4 scale). Each word is reduced to its Snowball stem (the `snowballstemmer` package)
and looked up; the function words VADER's rules key on are mapped to their English twins ("не" ->
"not", "очень" -> "very", "но" -> "but"), so that "не плохо" is handled as "not bad" is.

The label comes from VADER's compound score with its authors' cut-offs (±0.05). Accuracy on the
labelled set in tests/surveys/sentiment_cases.tsv is asserted in tests and stated in the README.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import snowballstemmer
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE = "positive"
NEUTRAL = "neutral"
NEGATIVE = "negative"
# VADER's authors' thresholds on the compound score (README of vaderSentiment).
COMPOUND_POSITIVE_FROM = 0.05
COMPOUND_NEGATIVE_TO = -0.05

RU_LEXICON_PATH = Path(__file__).parent / "data" / "ru_sentiment.tsv"
CYRILLIC = re.compile(r"[\u0430-\u044f\u0451]", re.IGNORECASE)  # the Russian alphabet
LATIN = re.compile(r"[a-z]", re.IGNORECASE)
WORD = re.compile(r"[\u0430-\u044f\u0451a-z]+|[!?]+|[^\s\u0430-\u044f\u0451a-z]+", re.IGNORECASE)

# Russian function words VADER's rules look for, as the English words those rules know.
RU_FUNCTION_WORDS: dict[str, str] = {
    "не": "not",
    "нет": "no",
    "ни": "nor",
    "никогда": "never",
    "ничуть": "not",
    "нисколько": "not",
    "без": "without",
    "но": "but",
    "однако": "but",
    "зато": "but",
    "очень": "very",
    "весьма": "very",
    "крайне": "extremely",
    "невероятно": "incredibly",
    "совершенно": "totally",
    "абсолютно": "absolutely",
    "полностью": "completely",
    "слишком": "too",
    "так": "so",
    "такой": "so",
    "такая": "so",
    "такое": "so",
    "настолько": "so",
    "самый": "most",
    "самая": "most",
    "самое": "most",
    "довольно": "fairly",
    "немного": "slightly",
    "чуть": "slightly",
    "слегка": "slightly",
    "почти": "almost",
    "едва": "barely",
    "вообще": "totally",
    "супер": "super",
}


@functools.cache
def _english() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@functools.cache
def _russian_stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("russian")


@functools.cache
def _russian() -> SentimentIntensityAnalyzer:
    """VADER's rules over the Russian stem lexicon."""
    analyzer = SentimentIntensityAnalyzer()
    lexicon: dict[str, float] = {}
    for line in RU_LEXICON_PATH.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, valence = line.split("\t")[:2]
        lexicon[_russian_stemmer().stemWord(word.lower().replace("\u0451", "\u0435"))] = float(
            valence
        )
    analyzer.lexicon = lexicon
    return analyzer


def _russian_as_vader_input(text: str) -> str:
    stemmer = _russian_stemmer()
    tokens = []
    for token in WORD.findall(text):
        lower = token.lower().replace("\u0451", "\u0435")  # yo as ye, as people type it
        if lower in RU_FUNCTION_WORDS:
            tokens.append(RU_FUNCTION_WORDS[lower])
        elif CYRILLIC.search(lower):
            stem = stemmer.stemWord(lower)
            # Keep shouting: VADER boosts words written in capitals.
            tokens.append(stem.upper() if token.isupper() and len(token) > 1 else stem)
        else:
            tokens.append(token)
    return " ".join(tokens)


def detect_language(text: str, language: str | None = None) -> str:
    """ "ru" or "en", by the script most of the letters are written in; `language` breaks ties."""
    cyrillic = len(CYRILLIC.findall(text))
    latin = len(LATIN.findall(text))
    if cyrillic > latin:
        return "ru"
    if latin > cyrillic:
        return "en"
    return "ru" if (language or "").startswith("ru") else "en"


def compound(text: str, language: str | None = None) -> float:
    """VADER's compound score of `text`, from -1 (very negative) to +1 (very positive)."""
    if detect_language(text, language) == "ru":
        return float(_russian().polarity_scores(_russian_as_vader_input(text))["compound"])
    return float(_english().polarity_scores(text)["compound"])


def classify(text: str, language: str | None = None) -> str:
    """ "positive", "neutral" or "negative" for a feedback comment; empty text is neutral."""
    if not text or not text.strip():
        return NEUTRAL
    score = compound(text, language)
    if score >= COMPOUND_POSITIVE_FROM:
        return POSITIVE
    if score <= COMPOUND_NEGATIVE_TO:
        return NEGATIVE
    return NEUTRAL
