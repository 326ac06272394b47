"""Tables: layouts of the paper's tables and the paper's numbers beside ours."""
