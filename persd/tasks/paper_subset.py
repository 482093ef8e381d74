"""The paper's MBPP evaluation subset: `--tasks mbpp-paper:mbpp.jsonl`.

    from persd.tasks.paper_subset import PAPER_MBPP_IDS, in_paper_subset
    tasks = [t for t in load_tasks("mbpp:mbpp.jsonl") if in_paper_subset(t)]

The release (SalesforceAIResearch/PersDistill, Apache-2.0, code/eval_mbpp.py) scores MBPP on
a fixed set of 307 task ids, the MBPP tasks that are also in MBPP's "sanitized" edition
(its assert lists them). Its numbers are comparable only on the same tasks.
"""

from __future__ import annotations

from persd.tasks.formats import Task

PAPER_MBPP_IDS = frozenset({
    2, 3, 4, 6, 7, 8, 9, 11, 12, 14, 16, 17, 18, 19, 20, 56, 57, 58, 59, 61, 62, 63, 64, 65,
    66, 67, 68, 69, 70, 71, 72, 74, 75, 77, 79, 80, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92,
    93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 108, 109, 111, 113, 115,
    116, 117, 118, 119, 120, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 135, 137,
    138, 139, 140, 141, 142, 143, 145, 160, 161, 162, 163, 164, 165, 166, 167, 168, 170, 171,
    172, 222, 223, 224, 226, 227, 228, 229, 230, 232, 233, 234, 235, 237, 238, 239, 240, 242,
    244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 255, 256, 257, 259, 260, 261, 262, 264,
    265, 266, 267, 268, 269, 270, 271, 272, 273, 274, 276, 277, 278, 279, 280, 281, 282, 283,
    284, 285, 286, 287, 290, 291, 292, 293, 294, 295, 296, 297, 299, 300, 301, 304, 305, 306,
    307, 308, 309, 310, 311, 312, 388, 389, 390, 391, 392, 393, 394, 395, 396, 397, 398, 399,
    400, 401, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 417, 418, 419, 420,
    421, 422, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434, 435, 436, 437, 438, 439,
    440, 441, 442, 443, 444, 445, 446, 447, 448, 450, 451, 452, 453, 454, 455, 456, 457, 458,
    459, 460, 461, 462, 463, 464, 465, 468, 470, 471, 472, 473, 474, 475, 476, 477, 478, 479,
    554, 555, 556, 557, 558, 559, 560, 562, 563, 564, 565, 566, 567, 568, 569, 572, 573, 574,
    576, 577, 578, 579, 580, 581, 582, 583, 584, 585, 586, 587, 588, 589, 590, 591, 592, 593,
    594, 595, 596, 597, 598, 599, 600
})
PREFIX = "MBPP/"


def in_paper_subset(task: Task) -> bool:
    """Whether an MBPP task (id "MBPP/<n>" or "<n>") is one the release scores."""
    number = task.task_id.removeprefix(PREFIX)
    return number.isdigit() and int(number) in PAPER_MBPP_IDS
