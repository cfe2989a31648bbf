"""`hs report` and `hs audit`: one self-contained HTML file a clinician can read, and a review
sheet a reviewer fills in. Never imports torch or onnxruntime; plots are hand-written SVG."""
