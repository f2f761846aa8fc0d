"""What the ledger's pages call its entries' actions and objects: each action by its name in the
page's language, the code kept beside it for those who copy it. A domain's action without a name
of its own is named from its parts (``hub.case.sign`` → 中枢 · 工单 · 签收), so a new action
reads in Chinese from the day it is first recorded."""

from __future__ import annotations

ACTIONS = {
    "login.success": "登录成功", "login.failure": "登录失败",
    "user.create": "创建用户", "user.update": "修改用户", "unit.create": "创建单位",
    "unit.update": "修改单位", "region.create": "创建行政区划", "region.update": "修改行政区划",
    "region.boundary.import": "导入区划边界", "region.boundary.remove": "删除区划边界",
    "catalog.resource.create": "登记数据资源", "catalog.resource.update": "修改数据资源",
    "catalog.resource.submit": "提交数据资源", "catalog.resource.approve": "审核通过数据资源",
    "catalog.resource.register": "编目数据资源", "catalog.resource.publish": "发布数据资源",
    "catalog.resource.import": "批量登记数据资源", "datastore.load": "加载数据内容",
    "datastore.clear": "清空数据内容", "grading.scan": "分类分级扫描",
    "grading.confirm": "确认分级", "grading.override": "调整分级",
    "sources.register": "登记权威来源", "sources.conflict": "发现一数多源冲突",
    "sharing.request": "提出共享申请", "sharing.grant": "授予共享", "sharing.refuse": "不予共享",
    "sharing.revoke": "撤销共享授权", "sharing.withdraw": "撤回共享申请",
    "sharing.read": "读取共享数据", "sharing.read.refused": "拒绝读取共享数据",
    "sharing.demand.post": "发布数据需求", "sharing.demand.answer": "答复数据需求",
    "sharing.demand.match": "采纳需求答复", "sharing.demand.close": "关闭数据需求",
    "quality.rule.add": "添加质量规则", "quality.rule.remove": "删除质量规则",
    "quality.run": "运行质量检查", "quality.dispute.raise": "提出数据异议",
    "baselib.link": "基础库关联", "baselib.link.incremental": "基础库增量关联",
    "baselib.link.read": "基础库关联读取来源", "baselib.link.failed": "基础库关联失败",
    "baselib.read": "读取基础库", "baselib.theme.define": "定义主题库",
    "baselib.theme.build": "构建主题库", "baselib.theme.read": "读取主题库",
    "certificate.issue": "签发电子证照", "certificate.revoke": "撤销电子证照",
    "certificate.holder_lookup": "持证人查询证照", "certificate_key.create": "生成签章密钥",
    "certificate_key.retire": "停用签章密钥", "certificate_type.define": "定义证照类型",
    "cockpit.plan.imported": "导入规划", "cockpit.plan.edited": "修改规划",
    "cockpit.actual.measured": "平台计量指标值", "cockpit.actual.approved": "审核通过指标值",
    "cockpit.task.updated": "更新任务进展", "cockpit.task.reminded": "提醒任务进展",
    "hotline.knowledge.put": "维护知识库", "hub.taxonomy.import": "导入事件分类",
    "hub.dispatch.rule.put": "维护派单目录", "hub.dispatch.model.promoted": "派单模型晋级",
    "hub.dispatch.model.rejected": "派单模型未晋级", "hub.hotspot.raised": "发现热点",
    "hub.cases.exported": "导出工单", "hub.case.contact_viewed": "查看诉求人联系方式",
    "perception.device.put": "登记感知设备", "perception.type.put": "登记设备类型",
    "perception.rule.put": "维护感知规则", "perception.alarm.raised": "产生告警",
    "onething.item.created": "创建一件事事项", "onething.applicant.registered": "登记办事人",
    "onething.prefill": "一表申请预填", "onething.application.submitted": "提交一件事申请",
    "onething.matter.opened": "事项开始办理", "onething.matter.returned": "事项退回补正",
    "onething.matter.done": "事项办结", "onething.offer.check": "免申即办资格核验",
    "onething.offer.made": "推送免申即办", "products.agreement.grant": "授予授权运营",
    "products.agreement.sign": "签署授权运营协议",
    "products.agreement.review.approve": "审核通过授权运营",
    "products.product.register": "登记数据产品", "products.product.review.approve": "审核通过数据产品",
    "products.product.list": "上架数据产品", "products.scenario.create": "创建应用场景",
    "products.scenario.link": "关联应用场景", "products.asset.record": "登记数据资产",
    "products.asset.revalue": "重估数据资产", "services.evaluation.rated": "提交评价",
    "services.evaluation.rectified": "差评整改反馈", "services.evaluation.revisited": "差评回访",
    "services.evaluation.overdue": "差评整改超期", "sandbox.query": "隐私计算查询",
    "sandbox.query.answer": "答复隐私计算查询", "sandbox.query.refuse": "拒绝隐私计算查询",
    "sandbox.grant": "授予隐私预算", "sandbox.grant.revoke": "撤销隐私预算",
    "sandbox.declare": "沙箱声明数据资源",
    "sandbox.job.queue": "提交沙箱作业", "sandbox.job.run": "运行沙箱作业",
    "sandbox.job.refuse": "拒绝沙箱作业", "sandbox.job.cancel": "撤回沙箱作业",
    "sandbox.job.output.release": "放行沙箱作业产出", "sandbox.release.prepare": "准备脱敏数据发布",
    "sandbox.release.approve": "审核通过脱敏数据发布", "sandbox.release.reject": "退回脱敏数据发布",
    "sandbox.release.refuse": "拒绝脱敏数据发布", "sandbox.release.publish": "发布脱敏数据",
    "sandbox.release.read": "读取脱敏数据发布", "sandbox.release.download": "下载脱敏数据",
    "sms.queue": "短信待发送", "sms.fail": "短信发送失败", "portal.code.request": "获取短信验证码",
    "portal.signin.refused": "拒绝验证码登录", "portal.register": "实名注册",
    "portal.register.refused": "拒绝实名注册", "portal.phone.tie": "绑定手机号",
    "portal.signin": "验证码登录", "portal.enterprise.read": "法定代表人查阅本企业信息",
    "portal.enterprise.refused": "拒绝查阅企业信息", "api_key.create": "创建接口密钥",
    "api_key.revoke": "撤销接口密钥", "baselib.theme.grade": "复核主题库分级",
    "cockpit.actual.corrected": "更正指标值", "cockpit.assessment.rules_set": "设置考核规则",
    "masking.policy": "设置脱敏策略", "masking.reveal": "还原假名化数据",
    "open.apply": "申请开放数据", "open.download": "下载开放数据",
    "opendata.harvest": "汇聚开放数据目录", "opendata.harvest.source": "登记开放数据汇聚来源",
    "user.password_change": "修改密码", "user.unlock": "解锁用户",
    "perception.notification.retry": "重发已放弃的通知",
    "perception.notification.discard": "丢弃已放弃的通知",
}  # fmt: skip

# the parts of an action's code, for the actions without a name of their own
WORDS = {
    "hub": "中枢", "case": "工单", "cases": "工单", "dispatch": "派单", "model": "模型",
    "rule": "规则", "federation": "区县联通", "supervision": "督办", "brains": "中枢",
    "catalog": "数据目录", "resource": "数据资源", "datastore": "数据内容", "grading": "分级",
    "sharing": "共享", "demand": "需求", "quality": "数据质量", "dispute": "异议",
    "sources": "一数一源", "baselib": "基础库", "theme": "主题库", "certificate": "电子证照",
    "certificate_key": "签章密钥", "certificate_type": "证照类型", "cockpit": "规划监测",
    "plan": "规划", "actual": "指标值", "task": "任务", "hotline": "热线", "knowledge": "知识库",
    "perception": "感知", "device": "设备", "type": "类型", "alarm": "告警", "entities": "实体",
    "onething": "一件事", "item": "事项", "applicant": "办事人", "application": "申请",
    "matter": "事项", "offer": "免申即办", "products": "数据产品", "product": "数据产品",
    "agreement": "授权运营协议", "scenario": "应用场景", "asset": "数据资产", "contract": "合同",
    "delivery": "交付", "services": "服务", "evaluation": "好差评", "sandbox": "隐私计算沙箱",
    "region": "行政区划", "boundary": "边界", "unit": "单位", "user": "用户", "login": "登录",
    "open": "数据开放", "masking": "脱敏", "review": "审核", "taxonomy": "事件分类",
    "hotspot": "热点", "corrections": "纠错样本", "margins": "晋级门槛", "peer": "对端",
    "create": "创建", "created": "创建", "update": "修改", "updated": "修改", "put": "维护",
    "add": "添加", "added": "添加", "remove": "删除", "delete": "删除", "import": "导入",
    "imported": "导入", "export": "导出", "exported": "导出", "read": "读取", "refused": "拒绝",
    "approve": "审核通过", "approved": "审核通过", "rejected": "未通过", "reject": "退回",
    "submit": "提交", "submitted": "提交", "register": "登记", "registered": "登记",
    "publish": "发布", "grant": "授予", "revoke": "撤销", "withdraw": "撤回",
    "withdrawn": "撤回", "raise": "提出", "raised": "产生", "answer": "答复", "close": "关闭",
    "closed": "关闭", "sign": "签收", "reply": "答复", "return": "退单", "returned": "退回",
    "reassign": "改派", "merge": "并单", "reopen": "重办", "extend": "申请延期",
    "approve_extension": "批准延期", "deny_extension": "不批准延期", "follow_up": "回访",
    "note": "办理记录", "warn": "预警", "urge": "督办", "escalate": "上报", "accept": "受理",
    "run": "运行", "scan": "扫描", "confirm": "确认", "override": "调整", "link": "关联",
    "incremental": "增量", "build": "构建", "define": "定义", "issue": "签发",
    "retire": "停用", "rotate": "轮换", "load": "加载", "clear": "清空", "check": "核验",
    "made": "推送", "done": "办结", "opened": "开始办理", "rated": "评价",
    "rectified": "整改反馈", "revisited": "回访", "overdue": "超期", "success": "成功",
    "failure": "失败", "failed": "失败", "measured": "计量", "reminded": "提醒",
    "edited": "修改", "record": "登记", "revalue": "重估", "list": "上架", "delist": "下架",
    "changed": "变更", "pushed": "下发", "received": "接收", "sent": "发送", "secret": "密钥",
    "sent_down": "下发", "matched": "采纳", "post": "发布", "match": "采纳",
    "supplemented": "补正", "declined": "放弃", "handed_over": "移交", "prefill": "预填",
    "holder_lookup": "持证人查询", "contact_viewed": "查看联系方式", "retrain_asked": "申请重训",
    "retrained": "重训", "promoted": "晋级", "conflict": "冲突", "query": "查询",
    "reported": "报告", "status": "状态", "alarm_closed": "告警解除",
}  # fmt: skip

OBJECTS = {
    "base_file": "基础档案", "base_library": "基础库", "case": "工单", "certificate": "电子证照",
    "certificate_key": "签章密钥", "certificate_type": "证照类型", "data_asset": "数据资产",
    "data_kind": "数据类别", "data_product": "数据产品", "data_resource": "数据资源",
    "demand": "数据需求", "device": "设备", "device_type": "设备类型",
    "dispatch_rule": "派单目录条目", "event_taxonomy": "事件分类", "hotspot": "热点",
    "indicator": "指标", "knowledge": "知识库条目", "model": "派单模型",
    "onething_application": "一件事申请", "onething_item": "一件事事项",
    "operation_agreement": "授权运营协议", "plan": "规划", "rating": "评价", "region": "行政区划",
    "rule": "规则", "scenario": "应用场景", "task": "任务", "theme_library": "主题库",
    "unit": "单位", "user": "用户", "share_request": "共享申请", "share_grant": "共享授权",
    "dispute": "数据异议", "contract": "合同", "file": "文件", "phone": "手机号", "sms": "短信",
    "subscription": "订阅", "api_key": "接口密钥", "assessment": "考核", "certificate_holder": "持证人",
    "corrections": "纠错样本", "federation_message": "区县联通消息", "federation_peer": "区县联通对端",
    "federation_push": "区县联通下发", "harvest_run": "开放数据汇聚", "harvest_source": "汇聚来源",
    "masking_policy": "脱敏策略", "product_contract": "数据产品合同", "pseudonym": "假名",
    "ratings": "评价", "sandbox_grant": "隐私预算", "sandbox_job": "沙箱作业",
    "sandbox_job_output": "沙箱作业产出", "sandbox_query": "隐私计算查询", "sandbox_release": "脱敏数据发布",
}  # fmt: skip


def action_name(lang: str, action: str) -> str:
    """The action as a person reads it: its own name, else its parts' names (a part without
    one keeps its code)."""
    if lang != "zh":
        return action
    if action in ACTIONS:
        return ACTIONS[action]
    return " · ".join(WORDS.get(part, part) for part in action.split("."))


def object_name(lang: str, object_type: str) -> str:
    if lang != "zh":
        return object_type.replace("_", " ")
    return OBJECTS.get(object_type, object_type)


def template_globals(lang: str) -> dict[str, object]:
    """The names, for a page of the ledger in ``lang``."""
    return {"action_name": lambda a: action_name(lang, a),
            "object_name": lambda o: object_name(lang, o)}  # fmt: skip
