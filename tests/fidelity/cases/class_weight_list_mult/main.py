# [1.0] * num_classes + [0.1] -- the classic CrossEntropyLoss class_weight idiom.
num_classes = 3
model = dict(
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            loss_cls=dict(
                type='CrossEntropyLoss',
                use_sigmoid=False,
                loss_weight=1.0,
                class_weight=[1.0] * num_classes + [0.1]))))
bg_first = [0.1] + [1.0] * num_classes
