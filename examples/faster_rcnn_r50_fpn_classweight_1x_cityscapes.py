# Faster R-CNN on the eight Cityscapes instance classes, with the
# background logit down-weighted in the RoI classification loss.
_base_ = [
    '_base_/models/faster_rcnn_r50_fpn.py',
    '_base_/datasets/coco_detection.py',
    '_base_/schedules/schedule_1x.py', '_base_/default_runtime.py'
]

num_classes = 8
classes = ('person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
           'bicycle')
data_root = 'data/cityscapes/'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            loss_cls=dict(
                # one weight per foreground class, then the background
                class_weight=[1.0] * num_classes + [0.1]))))

train_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instancesonly_filtered_gtFine_train.json',
        data_prefix=dict(img='leftImg8bit/train/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instancesonly_filtered_gtFine_val.json',
        data_prefix=dict(img='leftImg8bit/val/')))
test_dataloader = val_dataloader

val_evaluator = dict(
    ann_file=data_root +
    'annotations/instancesonly_filtered_gtFine_val.json')
test_evaluator = val_evaluator

# 8 epochs, decayed once after the 7th
train_cfg = dict(max_epochs=8)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=8,
        by_epoch=True,
        milestones=[7],
        gamma=0.1)
]
