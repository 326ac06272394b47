"""Multimodal SIT (§4.1.2, Table 3): InstructBLIP, VQAv2/COCO/GQA readers, VQA accuracy."""
