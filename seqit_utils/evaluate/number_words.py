"""Number words 0-20 and the tens in the MGSM languages (Tables 10/11), for answers written out in words.

`word_numbers(lang)` maps a lower-cased word to its value. Chinese and Japanese numerals are read by `cjk_number`
(up to 99: "十五" = 15, "二十" = 20). Used by `seqit_utils.evaluate.extract.extract_number` only when an answer holds
no digits at all.
"""

from __future__ import annotations

import functools

# Words for 0..20, then 30, 40, ..., 90 (the tens), per MGSM language; "a|b" lists variants of one number.
_UNITS_AND_TEENS = {
    "en": "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty",
    "de": "null eins|ein|eine zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn "
    "sechzehn siebzehn achtzehn neunzehn zwanzig",
    "es": "cero uno|una|un dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte",
    "fr": "zéro un|une deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
    "dix-sept dix-huit dix-neuf vingt",
    "ru": "ноль один|одна|одно два|две три четыре пять шесть семь восемь девять десять одиннадцать двенадцать "
    "тринадцать четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать двадцать",
    "sw": "sifuri moja mbili tatu nne tano sita saba nane tisa kumi kumi_na_moja kumi_na_mbili kumi_na_tatu "
    "kumi_na_nne kumi_na_tano kumi_na_sita kumi_na_saba kumi_na_nane kumi_na_tisa ishirini",
    "bn": "শূন্য এক দুই তিন চার পাঁচ ছয় সাত আট নয় দশ এগারো বারো তেরো চোদ্দ পনেরো ষোল সতেরো আঠারো উনিশ বিশ",
    "te": "సున్నా ఒకటి రెండు మూడు నాలుగు ఐదు ఆరు ఏడు ఎనిమిది తొమ్మిది పది పదకొండు పన్నెండు పదమూడు పద్నాలుగు "
    "పదిహేను పదహారు పదిహేడు పద్దెనిమిది పందొమ్మిది ఇరవై",
    "th": "ศูนย์ หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด เก้า สิบ สิบเอ็ด สิบสอง สิบสาม สิบสี่ สิบห้า สิบหก สิบเจ็ด สิบแปด สิบเก้า ยี่สิบ",
}
_TENS = {
    "en": "thirty forty fifty sixty seventy eighty ninety",
    "de": "dreißig vierzig fünfzig sechzig siebzig achtzig neunzig",
    "es": "treinta cuarenta cincuenta sesenta setenta ochenta noventa",
    "fr": "trente quarante cinquante soixante soixante-dix quatre-vingts|quatre-vingt quatre-vingt-dix",
    "ru": "тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто",
    "sw": "thelathini arobaini hamsini sitini sabini themanini tisini",
    "bn": "ত্রিশ চল্লিশ পঞ্চাশ ষাট সত্তর আশি নব্বই",
    "te": "ముప్పై నలభై యాభై అరవై డెబ్బై ఎనభై తొంభై",
    "th": "สามสิบ สี่สิบ ห้าสิบ หกสิบ เจ็ดสิบ แปดสิบ เก้าสิบ",
}
CJK_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
LANGS = (*_UNITS_AND_TEENS, "zh", "ja")


@functools.lru_cache(maxsize=16)
def word_numbers(lang: str) -> dict[str, int]:
    """`{word: value}` for 0-20 and the tens in `lang` (words lower-case; "_" in the table stands for a space)."""
    if lang not in _UNITS_AND_TEENS:
        return {}
    out: dict[str, int] = {}
    for value, variants in enumerate(_UNITS_AND_TEENS[lang].split()):
        out.update({word.replace("_", " "): value for word in variants.split("|")})
    for value, variants in zip(range(30, 100, 10), _TENS[lang].split(), strict=True):
        out.update({word: value for word in variants.split("|")})
    return out


def cjk_number(text: str) -> int | None:
    """The value of a Chinese/Japanese numeral below 100 ("七" 7, "十二" 12, "三十五" 35), else None."""
    if not text or any(char not in CJK_DIGITS and char != "十" for char in text):
        return None
    if "十" not in text:
        return CJK_DIGITS[text] if len(text) == 1 else None
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    return (CJK_DIGITS[tens] if tens else 1) * 10 + (CJK_DIGITS[units] if units else 0)
