# len, enumerate, zip, sum, min, max, abs, round, sorted, reversed, int/float/str/bool,
# any/all, list()/tuple(), indexing and slicing, tuple unpacking.
strides = [8, 16, 32, 64, 128]
weights = [1.0, 0.5, 0.25]
num_levels = len(strides)
indexed = [dict(level=i, stride=s) for i, s in enumerate(strides)]
pairs = list(zip(['cls', 'bbox', 'iou'], weights))
total = sum(weights)
lo, hi = min(strides), max(strides)
mag = abs(-3)
rounded = round(1.0 / 3.0, 4)
desc = sorted(strides, reverse=True)
rev = list(reversed(weights))
casts = [int('3'), float('0.5'), str(12), bool(0)]
checks = (any(w > 0.9 for w in weights), all(s > 0 for s in strides))
as_tuple = tuple(strides)
last = strides[-1]
tail = strides[1:]
every_other = strides[::2]
w, h = (1333, 800)
first, *rest = weights
loss_cls = dict(type='FocalLoss', gamma=float(2), loss_weight=max(weights))
