"""Seq-Instruct prompts (§2.2, App. B.4 Fig. 3/4, in our own words): the option letters, the prompt text and its
few-shot examples, and the pure builders of OpenAI-style `messages` for the option, rewrite and response steps.

~100 of these lines are prompt text; the parsers that read the replies' format are in
`seqit_utils.sit.seq_instruct_parsing`, the iteration driver in `seqit_utils.sit.seq_instruct`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from seqit_utils.prompts import user_message

OPTIONS = ("A", "B", "C", "D")
Messages = list[dict[str, str]]

_OPTION_TEXT = {
    "A": "Decompose: split the task into two or more smaller steps, done in order, whose last step gives the "
    "original answer.",
    "B": 'Prefix: add a new task done before the original one, whose result helps with it ("First ..., then '
    '<original task>").',
    "C": "Suffix: add a new task done after the original one, which builds on its result.",
    "D": "Hold: keep the instruction as it is (when it is already complete and extra steps would not help).",
}
_SYSTEM = "You turn single instructions into sequential ones. Follow the answer format of the examples exactly."
_OPTION_TASK = (
    "Read the instruction (and its input, if there is one) and decide how to turn it into a sequential instruction: "
    "one that asks for related tasks to be done one after another. Choose one of these options:\n{options}\n"
    'Give your reasoning in a few sentences, then end with "So the option is: <letter>."'
)
_REWRITE_TASK = (
    "Turn the original instruction into a sequential instruction: one instruction that asks for related tasks to be "
    "done one after another, using this option:\n{option}\nRules:\n"
    "- Keep every detail the original needs (options, numbers, names, code, tables, quoted text): the original "
    "instruction will not be shown again.\n"
    "- The last task must still produce what the original instruction asked for, in the same format.\n"
    '- Tasks that only say "read" or "understand" the given information do not count.\n'
    "- If there is an input, it will be given again with the new instruction; do not copy it.\n"
    "Explain your idea in a sentence or two, then write the result as\n#New Instruction#: <the new instruction>###"
)
# Few-shot examples written for this project, one per option (Fig. 3) and two per rewrite option (Fig. 4).
_OPTION_SHOTS = {
    "A": """Instruction: Write a short cover letter for a junior data analyst position.
Reasoning: A good letter depends on knowing what to highlight, so the task splits into two steps: first list the \
skills a junior data analyst should show, then write the letter around them.
So the option is: A.""",
    "B": """Instruction: Translate the sentence into French.
Input: The museum opens at nine and closes at six.
Reasoning: A useful task before translating is to pick out the time expressions, since French writes times \
differently; the translation then builds on that list.
So the option is: B.""",
    "C": """Instruction: Name the largest planet in the solar system.
Reasoning: The answer is a single word; a follow-up task can build on it, for example giving two facts that \
explain why that planet is so large.
So the option is: C.""",
    "D": """Instruction: Convert 25 degrees Celsius to Fahrenheit.
Reasoning: This is one precise calculation with a single correct answer; extra steps would add nothing useful.
So the option is: D.""",
}
_REWRITE_SHOTS = {
    "A": (
        """#Original Instruction#: Explain how a bill becomes law in the United States.
Reasoning: The explanation is easier to follow in two steps: the stages first, then what happens at each.
#New Instruction#: List the main stages a bill passes through in the U.S. Congress, then explain what happens at \
each stage until it becomes law.###""",
        """#Original Instruction#: Plan a three-day trip to Rome for a first-time visitor.
Reasoning: A plan is built from a shortlist: choose the sights first, then arrange them into days.
#New Instruction#: Pick the eight sights a first-time visitor to Rome should not miss, then arrange them into a \
three-day itinerary with a morning and an afternoon plan for each day.###""",
    ),
    "B": (
        """#Original Instruction#: Summarize the paragraph in one sentence.
#Input#: Solar panels turn sunlight into electricity. Their price fell by about 90% in ten years, so many \
households now install them on their roofs.
Reasoning: Picking out the key facts first gives the summary a solid basis.
#New Instruction#: Identify the two most important facts in the paragraph, then summarize the paragraph in one \
sentence that includes both.###""",
        """#Original Instruction#: Suggest a name for a bakery that sells only gluten-free bread.
Reasoning: Collecting words tied to the theme first leads to better names.
#New Instruction#: Write down five words associated with fresh bread or gluten-free baking, then combine some of \
them into a name for a bakery that sells only gluten-free bread.###""",
    ),
    "C": (
        """#Original Instruction#: Write a haiku about autumn rain.
Reasoning: A follow-up task can use the poem just written, for example by explaining one of its images.
#New Instruction#: Write a haiku about autumn rain, then explain in one sentence which image in your haiku sets \
its mood.###""",
        """#Original Instruction#: Sort the numbers in ascending order.
#Input#: 42, 7, 19, 3, 88
Reasoning: Once the list is sorted, a natural next step uses it: report its median.
#New Instruction#: Sort the numbers in ascending order, then state the median of the sorted list.###""",
    ),
}


def check_options(allowed: Sequence[str], *, key: str = "allowed_options") -> tuple[str, ...]:
    """`allowed` as a sorted tuple of unique option letters; ValueError naming `key` otherwise."""
    letters = tuple(allowed)
    if not letters or any(o not in OPTIONS for o in letters) or len(set(letters)) != len(letters):
        raise ValueError(f"{key} = {list(letters)!r}: give unique letters from {', '.join(OPTIONS)}")
    return tuple(sorted(letters))


def _as_rng(rng: random.Random | int | str) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _query(instruction: str, input: str, labels: tuple[str, str]) -> str:
    return f"{labels[0]} {instruction}\n" + (f"{labels[1]} {input}\n" if input else "") + "Reasoning:"


def build_option_messages(
    instruction: str, input: str = "", *, allowed: Sequence[str] = OPTIONS, rng: random.Random | int | str
) -> Messages:
    """Fig. 3: ask which option fits; only `allowed` options and their examples are shown, shuffled by `rng`."""
    allowed = check_options(allowed)
    shots = [_OPTION_SHOTS[o] for o in allowed]
    _as_rng(rng).shuffle(shots)
    task = _OPTION_TASK.format(options="\n".join(f"{o}. {_OPTION_TEXT[o]}" for o in allowed))
    user = "\n\n".join([task, *shots, _query(instruction, input, ("Instruction:", "Input:"))])
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def build_rewrite_messages(
    instruction: str, input: str = "", *, option: str, rng: random.Random | int | str
) -> Messages:
    """Fig. 4: rewrite for option A, B or C, ending with "#New Instruction#: ... ###"; examples shuffled by `rng`."""
    if option not in _REWRITE_SHOTS:
        raise ValueError(f"option = {option!r}: a rewrite prompt exists for A, B and C only (D keeps the instruction)")
    shots = list(_REWRITE_SHOTS[option])
    _as_rng(rng).shuffle(shots)
    task = _REWRITE_TASK.format(option=f"{option}. {_OPTION_TEXT[option]}")
    user = "\n\n".join([task, *shots, _query(instruction, input, ("#Original Instruction#:", "#Input#:"))])
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def build_response_messages(instruction: str, input: str = "") -> Messages:
    """§2.2: the same LLM answers the (new) instruction, input appended as in `prompts.user_message`."""
    return [{"role": "user", "content": user_message(instruction, input)}]
