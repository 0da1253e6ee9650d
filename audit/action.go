package audit

// Action names what an audit event records. Every action is declared
// here, next to the Chinese label staff read in the console; a test fails
// for an action without a label.
type Action string

// Actions on cards and their documents.
const (
	CardCreate    Action = "card.create"          // an application received, revision 0 rendered
	CardRead      Action = "card.read"            // staff read the full application (Art. 13)
	CardSeal      Action = "card.seal"            // a level's seal applied
	CardApprove   Action = "card.approve"         // a level approved, its seal follows (Art. 15)
	CardUnapprove Action = "card.unapprove"       // an approval cancelled: the application changed after it
	CardMaterials Action = "card.materials"       // how the materials are satisfied changed
	CardReview    Action = "card.material_review" // one material accepted or found deficient (Art. 15, 19)
	CardMaterial  Action = "card.material"        // staff viewed a material a citizen sent (Art. 13)
	CardResubmit  Action = "card.resubmit"        // the applicant sent materials the one-time notice asked for (Art. 19)
	CardNotice    Action = "card.notice"          // the one-time notice given (Art. 19)
	CardRefuse    Action = "card.refuse"          // refused in writing (Art. 11)
	CardVoid      Action = "card.void"            // 作废 (Art. 22)
	CardRevoke    Action = "card.revoke"          // 取消 (Art. 20)
	CardSupersede Action = "card.supersede"       // 换发 (Art. 16)
	CardDownload  Action = "card.download"        // the holder downloaded the card
	CardPDF       Action = "card.pdf"             // staff downloaded the card's PDF
	FormCreate    Action = "form.create"          // re-birth approval form drawn up (Art. 17)
	FormSeal      Action = "form.seal"            // a seal applied to the form (补盖)
	CardsExport   Action = "cards.export"         // export for the population database (Art. 23)
	ReportOverdue Action = "report.overdue"       // the overdue report read (Art. 19, 24)
	// Issue 14's procedure rules.
	CreditExport     Action = "report.credit"       // revoked cards for the social credit system (Art. 20)
	PopulationImport Action = "population.import"   // a county's population-register extract imported (Art. 9, 23)
	PopulationReport Action = "population.compare"  // cards compared with the extract (Art. 23)
	NoticeDownload   Action = "notice.download"     // the applicant downloaded a notice (Art. 11, 19)
	PostingRequest   Action = "card.posting"        // the holder asked for the official card by post (Art. 16)
	PostingUpdate    Action = "card.posting_update" // the official card printed or posted (Art. 16)
	CardPreReview    Action = "card.prereview"      // a village or township reported a re-birth application to the county (Art. 17)
	CardIssueDirect  Action = "card.issue_direct"   // the county issued a re-birth card directly from the pre-review list (Art. 17)
	// CardCrossProvince: staff found that another province must verify
	// (or, with a reason, that it need not): 20 or 10 working days (Art. 19).
	CardCrossProvince Action = "card.cross_province"
	// Issue 16.
	CardsSearch Action = "cards.search" // staff searched the registry by a holder's name or ID number (Art. 13)
	// Issue 17: a fresh archive timestamp (with its validation data)
	// appended to an issued card's PDF ('cardseal renew-timestamps').
	CardArchive Action = "card.archive_timestamp"
)

// Actions on staff accounts and organisations.
const (
	UserLogin         Action = "user.login"
	UserLogout        Action = "user.logout"
	UserLoginFailed   Action = "user.login_failed"
	UserLocked        Action = "user.locked"
	UserAdd           Action = "user.add"
	UserDisable       Action = "user.disable"
	UserEnable        Action = "user.enable"
	UserResetPassword Action = "user.reset_password"
	OrgAdd            Action = "org.add"
	OrgRename         Action = "org.rename"
	OrgRetire         Action = "org.retire"
	OrgImport         Action = "org.import"
	DataKeyRotate     Action = "datakey.rotate"  // every stored value re-encrypted under a new data key
	DataKeyReindex    Action = "datakey.reindex" // the search index of every card derived again from the data key
)

// labels are the actions as staff read them (zh-CN).
var labels = map[Action]string{
	CardCreate:        "受理申请、生成服务卡",
	CardRead:          "查看申请信息",
	CardSeal:          "审核通过并加盖电子印章",
	CardApprove:       "审核同意（网上同时审核，待下级盖章后自动盖章）",
	CardUnapprove:     "审核同意已撤销（申请在同意后有变更，须重新审核）",
	CardMaterials:     "更新申请材料",
	CardReview:        "审核申请材料",
	CardMaterial:      "查看网上提交的申请材料",
	CardResubmit:      "申请人补交材料",
	CardNotice:        "出具一次性告知书",
	CardRefuse:        "不予办理",
	CardVoid:          "作废",
	CardRevoke:        "取消",
	CardSupersede:     "换发",
	CardDownload:      "持卡人下载",
	CardPDF:           "下载服务卡文件",
	FormCreate:        "制作再生育审批表",
	FormSeal:          "在再生育审批表上盖章",
	CardPreReview:     "预审上报（第十七条）",
	CardIssueDirect:   "县级直接办理（第十七条）",
	CardsExport:       "导出办证数据",
	ReportOverdue:     "查看超期报告",
	CreditExport:      "导出社会征信名单",
	PopulationImport:  "导入全员人口数据",
	PopulationReport:  "比对全员人口数据",
	NoticeDownload:    "申请人下载告知书",
	PostingRequest:    "申请邮寄正式证件",
	PostingUpdate:     "登记正式证件打印、邮寄",
	CardCrossProvince: "登记需外省核实（办结时限）",
	CardsSearch:       "按姓名或身份证号查找服务卡",
	CardArchive:       "续加存档时间戳",
	UserLogin:         "登录",
	UserLogout:        "退出登录",
	UserLoginFailed:   "登录失败",
	UserLocked:        "账号暂时锁定",
	UserAdd:           "新增工作人员账号",
	UserDisable:       "停用工作人员账号",
	UserEnable:        "启用工作人员账号",
	UserResetPassword: "重置密码",
	OrgAdd:            "新增机构",
	OrgRename:         "机构更名",
	OrgRetire:         "机构撤销",
	OrgImport:         "导入机构",
	DataKeyRotate:     "轮换数据加密密钥",
	DataKeyReindex:    "重建姓名和身份证号检索索引",
}

// Label is the action as staff read it; an action without a label reads
// as its own name (the test makes sure there is none).
func (a Action) Label() string {
	if l, ok := labels[a]; ok {
		return l
	}
	return string(a)
}

// Actions lists every declared action.
func Actions() []Action {
	out := make([]Action, 0, len(labels))
	for a := range labels {
		out = append(out, a)
	}
	return out
}
