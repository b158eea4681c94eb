# List / dict comprehensions with range, conditions and nesting.
num_stages = 3
stage_loss_weights = [1.0 / (2 ** i) for i in range(num_stages)]
heads = [
    dict(type='Shared2FCBBoxHead',
         loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
         loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=w))
    for w in stage_loss_weights
]
even = [i for i in range(10) if i % 2 == 0]
grid = [[r * c for c in range(3)] for r in range(2)]
loss_by_stage = {f'stage{i}': dict(type='FocalLoss', gamma=1.0 + i)
                 for i in range(num_stages)}
flat = [x for row in grid for x in row]
squares = list(i * i for i in range(4))
